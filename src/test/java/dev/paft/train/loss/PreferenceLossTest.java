package dev.paft.train.loss;

import static dev.paft.train.loss.Golden.assertClose;
import static dev.paft.train.loss.Golden.doubles;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.config.LossType;
import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PreferenceLossTest {
    private static final JsonNode GOLDEN = Golden.load("golden_losses.json").get("preference");

    @Test
    void lossesMetricsAndGradientsMatchPyTorchInFloat32() {
        checkAll(DataType.FLOAT32, 1e-5);
    }

    @Test
    void lossesMetricsAndGradientsMatchPyTorchInFloat64() {
        checkAll(DataType.FLOAT64, 1e-10);
    }

    private static void checkAll(DataType type, double tol) {
        for (JsonNode c : GOLDEN) {
            String what = c.get("loss_type").asText() + " beta=" + c.get("beta").asDouble() + " ls="
                    + c.get("label_smoothing").asDouble() + " " + type;
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray pc = Golden.vector(m, c.get("policy_chosen"), type);
                NDArray pr = Golden.vector(m, c.get("policy_rejected"), type);
                NDArray nll = m.create(c.get("chosen_nll").asDouble()).toType(type, false);
                pc.setRequiresGradient(true);
                pr.setRequiresGradient(true);
                nll.setRequiresGradient(true);
                PreferenceLoss loss = PreferenceLoss.create(
                        trl(c.get("loss_type").asText()),
                        c.get("beta").asDouble(),
                        c.get("label_smoothing").asDouble());
                PreferenceBatch batch = new PreferenceBatch(
                        pc,
                        pr,
                        Golden.vector(m, c.get("ref_chosen"), type),
                        Golden.vector(m, c.get("ref_rejected"), type),
                        Golden.vector(m, c.get("chosen_tokens"), type),
                        Golden.vector(m, c.get("rejected_tokens"), type),
                        nll);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    PreferenceResult r = loss.compute(batch);
                    assertEquals(new Shape(), r.loss().getShape(), what + " loss is a scalar");
                    assertEquals(type, r.loss().getDataType(), what + " loss dtype");
                    assertClose(c.get("loss").asDouble(), r.loss(), tol, what + " loss");
                    JsonNode em = c.get("metrics");
                    assertEquals(
                            em.size(),
                            r.metrics().size(),
                            what + " metric names " + r.metrics().keySet());
                    for (Iterator<Map.Entry<String, JsonNode>> it = em.fields(); it.hasNext(); ) {
                        Map.Entry<String, JsonNode> e = it.next();
                        NDArray actual = r.metrics().get(e.getKey());
                        assertTrue(actual != null, what + " missing metric " + e.getKey());
                        assertClose(e.getValue().asDouble(), actual, tol, what + " " + e.getKey());
                    }
                    gc.backward(r.loss());
                }
                assertClose(doubles(c.get("grad_policy_chosen")), pc.getGradient(), tol, what + " dL/dpolicy_chosen");
                assertClose(
                        doubles(c.get("grad_policy_rejected")), pr.getGradient(), tol, what + " dL/dpolicy_rejected");
                if (loss.name().equals("orpo")) {
                    assertClose(c.get("grad_chosen_nll").asDouble(), nll.getGradient(), tol, what + " dL/dnll");
                }
            }
        }
    }

    @Test
    void dpoLossIsLn2WhenPolicyEqualsReference() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray chosen = m.create(new float[] {-42.5f, -7.25f, -130f});
            NDArray rejected = m.create(new float[] {-40f, -99.5f, -3f});
            NDArray n = m.create(new float[] {10, 20, 30});
            for (String name : new String[] {"sigmoid"}) {
                for (double ls : new double[] {0.0, 0.1}) {
                    PreferenceResult r = PreferenceLoss.create(trl(name), 0.1, ls)
                            .compute(new PreferenceBatch(chosen, rejected, chosen, rejected, n, n, null));
                    assertEquals(Math.log(2), r.loss().getFloat(), 1e-7, "ls=" + ls);
                    assertEquals(0f, r.metrics().get("rewards/margins").getFloat());
                    assertEquals(0f, r.metrics().get("rewards/accuracies").getFloat());
                }
            }
            // At Delta = 0 the hinge loss is 1 and IPO's is (1/(2 beta))^2.
            PreferenceBatch same = new PreferenceBatch(chosen, rejected, chosen, rejected, n, n, null);
            assertEquals(
                    1f,
                    PreferenceLoss.create(LossType.HINGE, 0.1, 0)
                            .compute(same)
                            .loss()
                            .getFloat(),
                    1e-7);
            assertEquals(
                    25f,
                    PreferenceLoss.create(LossType.IPO, 0.1, 0)
                            .compute(same)
                            .loss()
                            .getFloat(),
                    1e-5);
        }
    }

    /** A completion whose log-prob rounds to 0 (p = 1 in float32) keeps ORPO finite. */
    @Test
    void orpoStaysFiniteWhenALogProbIsZero() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray pc = m.create(new float[] {0f, -3f});
            NDArray pr = m.create(new float[] {-5f, 0f});
            NDArray nll = m.create(0.1f);
            pc.setRequiresGradient(true);
            pr.setRequiresGradient(true);
            NDArray n = m.create(new float[] {4, 6});
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                PreferenceResult r = PreferenceLoss.create(LossType.ORPO, 0.1, 0)
                        .compute(new PreferenceBatch(pc, pr, null, null, n, n, nll));
                assertTrue(
                        Float.isFinite(r.loss().getFloat()), "loss " + r.loss().getFloat());
                gc.backward(r.loss());
            }
            for (float g : pc.getGradient().toFloatArray()) {
                assertTrue(Float.isFinite(g), "grad " + g);
            }
            for (float g : pr.getGradient().toFloatArray()) {
                assertTrue(Float.isFinite(g), "grad " + g);
            }
        }
    }

    @Test
    void registryAndReferenceFlags() {
        assertTrue(PreferenceLoss.create(LossType.DPO, 0.1, 0).needsReference());
        assertTrue(PreferenceLoss.create(LossType.IPO, 0.1, 0).needsReference());
        assertTrue(PreferenceLoss.create(LossType.HINGE, 0.1, 0).needsReference());
        assertFalse(PreferenceLoss.create(LossType.ORPO, 0.1, 0).needsReference());
        List<String> names = new ArrayList<>();
        for (LossType t : LossType.values()) {
            names.add(PreferenceLoss.create(t, 0.1, 0).name());
        }
        assertEquals(List.of("sigmoid", "ipo", "hinge", "orpo"), names); // TRL's loss_type names
        PaftException e = assertThrows(PaftException.class, () -> PreferenceLoss.create(LossType.DPO, 0, 0));
        assertEquals(PaftException.USAGE, e.exitCode());
        assertThrows(PaftException.class, () -> PreferenceLoss.create(LossType.HINGE, 0.1, 0.1));
        assertThrows(PaftException.class, () -> PreferenceLoss.create(LossType.DPO, 0.1, 0.5));
    }

    /** The loss type of a TRL {@code loss_type} name (the golden files use TRL's names). */
    static LossType trl(String name) {
        for (LossType t : LossType.values()) {
            if (t.trlName().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException(name);
    }

    @Test
    void nonFiniteLossIsANumericError() {
        try (NDManager m = NDManager.newBaseManager()) {
            assertEquals(0.5, LossChecks.requireFinite(m.create(0.5f), "loss"), 0);
            PaftException e =
                    assertThrows(PaftException.class, () -> LossChecks.requireFinite(m.create(Float.NaN), "dpo loss"));
            assertEquals(PaftException.NUMERIC, e.exitCode());
            assertTrue(e.getMessage().contains("dpo loss"));
        }
    }
}
