package dev.paft.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.config.LoraConfig;
import dev.paft.engine.Engines;
import dev.paft.errors.PaftException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraAdapterTest {
    NDManager manager;
    final Map<String, long[]> shapes = new LinkedHashMap<>();

    @BeforeEach
    void start() {
        Engines.start("cpu", 0);
        manager = NDManager.newBaseManager();
        shapes.put("model.layers.0.self_attn.q_proj", new long[] {32, 64});
        shapes.put("model.layers.0.self_attn.v_proj", new long[] {16, 64});
        shapes.put("model.layers.0.mlp.down_proj", new long[] {64, 96});
    }

    @AfterEach
    void stop() {
        manager.close();
    }

    LoraAdapter fresh(long seed, boolean rs) {
        return LoraAdapter.create(
                shapes, new LoraConfig(4, 8, 0, List.of("q_proj", "v_proj", "down_proj"), rs), seed, "base", manager);
    }

    @Test
    void initIsSeededKaimingUniformAndZeroB() {
        try (LoraAdapter a = fresh(11, false);
                LoraAdapter b = fresh(11, false);
                LoraAdapter c = fresh(12, false)) {
            assertEquals(6, a.parameters().size());
            assertEquals(
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                    a.parameterNames().get(0));
            for (int i = 0; i < 6; i++) {
                assertArrayEquals(
                        a.parameters().get(i).toFloatArray(),
                        b.parameters().get(i).toFloatArray(),
                        0f);
                assertTrue(a.parameters().get(i).hasGradient()
                        || a.parameters().get(i).getGradient() != null);
            }
            assertFalse(Arrays.equals(
                    a.parameters().get(0).toFloatArray(), c.parameters().get(0).toFloatArray()));
            for (LoraModule m : a.modules().values()) {
                long in = m.a().getShape().get(1);
                float bound = (float) (1 / Math.sqrt(in));
                float max = m.a().abs().max().getFloat();
                assertTrue(max <= bound && max > 0.8 * bound, m.key() + " max " + max + " bound " + bound);
                assertEquals(0f, m.b().abs().max().getFloat());
                assertEquals(new Shape(4, in), m.a().getShape());
                assertEquals(new Shape(shapes.get(m.key())[0], 4), m.b().getShape());
            }
            assertEquals(2.0, a.scaling(), 0);
        }
        try (LoraAdapter rs = fresh(1, true)) {
            assertEquals(4.0, rs.scaling(), 0); // alpha / sqrt(r)
        }
    }

    @Test
    void saveLoadRoundTripAndDelta(@TempDir Path tmp) {
        try (LoraAdapter a = fresh(3, false)) {
            a.modules().values().forEach(m -> m.b().setRequiresGradient(false));
            for (LoraModule m : a.modules().values()) {
                m.b().addi(manager.randomNormal(m.b().getShape())); // make B non-zero
            }
            a.save(tmp, Map.of());
            Map<String, long[]> all = new LinkedHashMap<>(shapes);
            all.put("model.layers.0.self_attn.k_proj", new long[] {16, 64});
            try (LoraAdapter b = LoraAdapter.load(tmp, all, manager)) {
                assertEquals(a.modules().keySet(), b.modules().keySet());
                for (int i = 0; i < 6; i++) {
                    assertArrayEquals(
                            a.parameters().get(i).toFloatArray(),
                            b.parameters().get(i).toFloatArray(),
                            0f);
                }
                assertEquals(a.scaling(), b.scaling(), 0);
                try (NDManager scope = manager.newSubManager()) {
                    String k = "model.layers.0.mlp.down_proj";
                    NDArray d = b.delta(scope, k);
                    NDArray ref = b.modules()
                            .get(k)
                            .b()
                            .matMul(b.modules().get(k).a())
                            .mul(2f);
                    assertEquals(new Shape(64, 96), d.getShape());
                    assertTrue(d.sub(ref).abs().max().getFloat() < 1e-6f);
                    ref.close();
                }
            }
        }
    }

    @Test
    void adapterNotFittingTheBaseIsBadInput(@TempDir Path tmp) {
        try (LoraAdapter a = fresh(3, false)) {
            a.save(tmp, Map.of());
        }
        Map<String, long[]> wrongIn = new LinkedHashMap<>(shapes);
        wrongIn.put("model.layers.0.self_attn.q_proj", new long[] {32, 128});
        PaftException e = assertThrows(PaftException.class, () -> LoraAdapter.load(tmp, wrongIn, manager));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("model.layers.0.self_attn.q_proj.lora_A.weight"), e.getMessage());

        Map<String, long[]> wrongOut = new LinkedHashMap<>(shapes);
        wrongOut.put("model.layers.0.mlp.down_proj", new long[] {65, 96});
        e = assertThrows(PaftException.class, () -> LoraAdapter.load(tmp, wrongOut, manager));
        assertTrue(e.getMessage().contains("model.layers.0.mlp.down_proj.lora_B.weight"), e.getMessage());

        Map<String, long[]> missing = new LinkedHashMap<>(shapes);
        missing.remove("model.layers.0.self_attn.v_proj");
        e = assertThrows(PaftException.class, () -> LoraAdapter.load(tmp, missing, manager));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("v_proj"), e.getMessage());
    }

    /** PEFT-valid dotted / full-path target_modules load (they used to exit 3 on the last-name-part check). */
    @Test
    void dottedTargetModulesFollowPeftsRule(@TempDir Path tmp) {
        List<String> dotted = List.of("self_attn.q_proj", "self_attn.v_proj", "model.layers.0.mlp.down_proj");
        Path ok = tmp.resolve("ok");
        try (LoraAdapter a = LoraAdapter.create(shapes, new LoraConfig(4, 8, 0, dotted, false), 3, "base", manager)) {
            a.save(ok, Map.of());
        }
        try (LoraAdapter b = LoraAdapter.load(ok, shapes, manager)) {
            assertEquals(shapes.keySet(), b.modules().keySet());
            assertEquals(dotted, b.config().targetModules());
        }
        // a tensor target_modules does not name (v_proj: "self_attn.q_proj" is not its suffix) is bad input
        Path bad = tmp.resolve("bad");
        List<String> notV = List.of("self_attn.q_proj", "mlp.down_proj");
        try (LoraAdapter a = LoraAdapter.create(shapes, new LoraConfig(4, 8, 0, notV, false), 3, "base", manager)) {
            a.save(bad, Map.of());
        }
        PaftException e = assertThrows(PaftException.class, () -> LoraAdapter.load(bad, shapes, manager));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("model.layers.0.self_attn.v_proj"), e.getMessage());
    }

    @Test
    void disabledDropoutKeepsTheConfiguredRateInTheConfig() {
        try (LoraAdapter a =
                LoraAdapter.create(shapes, new LoraConfig(4, 8, 0.3, List.of("q_proj"), false), 1, "base", manager)) {
            assertEquals(0.3f, a.dropout(), 1e-7f);
            a.disableDropout();
            assertEquals(0f, a.dropout());
            assertEquals(0.3, a.config().loraDropout(), 0);
            assertEquals(0.3, a.config().toJson().get("lora_dropout").asDouble(), 0);
        }
    }

    @Test
    void loraLinearFormulaAndSeededDropout() {
        try (LoraAdapter a = fresh(5, false);
                NDManager scope = manager.newSubManager()) {
            LoraModule m = a.modules().get("model.layers.0.self_attn.q_proj");
            NDArray x = scope.randomNormal(new Shape(2, 3, 64));
            NDArray w = scope.randomNormal(new Shape(32, 64));
            NDArray base = LoraLinear.linear(x, w, null);
            // B = 0: exactly the base
            assertArrayEquals(
                    base.toFloatArray(),
                    LoraLinear.forward(x, w, null, m, a.scalingTensor(), 0.5f, false)
                            .toFloatArray(),
                    0f);
            m.b().setRequiresGradient(false);
            m.b().addi(scope.ones(m.b().getShape()));
            NDArray y = LoraLinear.forward(x, w, null, m, a.scalingTensor(), 0f, false);
            NDArray ref = x.matMul(w.transpose())
                    .add(x.matMul(m.a().transpose()).matMul(m.b().transpose()).mul(2f));
            assertTrue(y.sub(ref).abs().max().getFloat() < 1e-4f);
            // dropout: active only in training, reproducible under Engine.setRandomSeed
            Engine.getInstance().setRandomSeed(42);
            float[] d1 = LoraLinear.forward(x, w, null, m, a.scalingTensor(), 0.5f, true)
                    .toFloatArray();
            Engine.getInstance().setRandomSeed(42);
            float[] d2 = LoraLinear.forward(x, w, null, m, a.scalingTensor(), 0.5f, true)
                    .toFloatArray();
            assertArrayEquals(d1, d2, 0f);
            assertFalse(Arrays.equals(d1, y.toFloatArray()));
        }
    }
}
