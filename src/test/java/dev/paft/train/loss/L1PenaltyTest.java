package dev.paft.train.loss;

import static dev.paft.train.loss.Golden.assertClose;
import static dev.paft.train.loss.Golden.doubles;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.config.L1Target;
import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class L1PenaltyTest {
    private static final JsonNode GOLDEN = Golden.load("golden_losses.json").get("l1");

    private static List<L1Penalty.LoraFactors> goldenModules(NDManager m, DataType type) {
        List<L1Penalty.LoraFactors> mods = new ArrayList<>();
        int i = 0;
        for (JsonNode c : GOLDEN.get("modules")) {
            NDArray a = Golden.array(m, c.get("a"), new Shape(Golden.longs(c.get("a_shape"))), type);
            NDArray b = Golden.array(m, c.get("b"), new Shape(Golden.longs(c.get("b_shape"))), type);
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            mods.add(new L1Penalty.LoraFactors("m" + i++, a, b, c.get("scaling").asDouble()));
        }
        return mods;
    }

    @Test
    void valuesAndGradientsMatchPyTorch() {
        for (L1Target target : L1Target.values()) {
            String key = target.name().toLowerCase();
            try (NDManager params = NDManager.newBaseManager();
                    NDManager step = params.newSubManager()) {
                List<L1Penalty.LoraFactors> mods = goldenModules(params, DataType.FLOAT32);
                double lambda = 0.25;
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray p = new L1Penalty(target, lambda).compute(mods, step);
                    assertEquals(step, p.getManager(), "result on the step manager");
                    assertClose(lambda * GOLDEN.get(key).asDouble(), p, 1e-6, key);
                    gc.backward(p);
                }
                for (int i = 0; i < mods.size(); i++) {
                    JsonNode c = GOLDEN.get("modules").get(i);
                    double[] ga = doubles(c.get(key + "_grad_a"));
                    double[] gb = doubles(c.get(key + "_grad_b"));
                    for (int j = 0; j < ga.length; j++) {
                        ga[j] *= lambda;
                    }
                    for (int j = 0; j < gb.length; j++) {
                        gb[j] *= lambda;
                    }
                    assertClose(ga, mods.get(i).a().getGradient(), 1e-6, key + " dA" + i);
                    assertClose(gb, mods.get(i).b().getGradient(), 1e-6, key + " dB" + i);
                }
            }
        }
    }

    /** Autograd gradient = central finite differences in float64 (entries away from kinks). */
    @Test
    void gradientMatchesFiniteDifferences() {
        Random rnd = new Random(7);
        for (L1Target target : L1Target.values()) {
            try (NDManager params = NDManager.newBaseManager()) {
                List<L1Penalty.LoraFactors> mods =
                        List.of(factors(params, rnd, 2, 5, 3, 2.0, "q"), factors(params, rnd, 4, 3, 6, 0.5, "v"));
                L1Penalty penalty = new L1Penalty(target, 1.0);
                try (NDManager step = params.newSubManager();
                        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(penalty.compute(mods, step));
                }
                double h = 1e-6;
                for (L1Penalty.LoraFactors f : mods) {
                    for (NDArray t : new NDArray[] {f.a(), f.b()}) {
                        double[] auto = t.getGradient().toDoubleArray();
                        double[] base = t.toDoubleArray();
                        for (int j = 0; j < base.length; j++) {
                            double plus = valueWith(penalty, mods, t, base, j, base[j] + h);
                            double minus = valueWith(penalty, mods, t, base, j, base[j] - h);
                            double fd = (plus - minus) / (2 * h);
                            assertEquals(fd, auto[j], 1e-6, target + " " + f.name() + "[" + j + "]");
                        }
                        t.set(base);
                    }
                }
            }
        }
    }

    private static double valueWith(
            L1Penalty p, List<L1Penalty.LoraFactors> mods, NDArray t, double[] base, int j, double v) {
        double[] moved = base.clone();
        moved[j] = v;
        t.set(moved);
        try (NDManager step = t.getManager().newSubManager()) {
            return p.compute(mods, step).getDouble();
        }
    }

    private static L1Penalty.LoraFactors factors(
            NDManager m, Random rnd, int r, int in, int out, double s, String name) {
        NDArray a = m.create(gaussian(rnd, r * in), new Shape(r, in));
        NDArray b = m.create(gaussian(rnd, out * r), new Shape(out, r));
        a.setRequiresGradient(true);
        b.setRequiresGradient(true);
        return new L1Penalty.LoraFactors(name, a, b, s);
    }

    private static double[] gaussian(Random rnd, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextGaussian();
        }
        return x;
    }

    @Test
    void noModulesIsZeroAndBadConfigIsAUsageError() {
        try (NDManager m = NDManager.newBaseManager()) {
            assertEquals(
                    0f, new L1Penalty(L1Target.DELTA, 0.1).compute(List.of(), m).getFloat());
        }
        assertThrows(PaftException.class, () -> new L1Penalty(L1Target.DELTA, -1));
    }
}
