package dev.paft.train.optim;

import static dev.paft.train.loss.Golden.doubles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.train.loss.Golden;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AdamWTest {
    private static final JsonNode GOLDEN = Golden.load("golden_optim.json").get("adamw");

    private static AdamW.Config config() {
        JsonNode c = GOLDEN.get("config");
        return new AdamW.Config(
                c.get("beta1").asDouble(),
                c.get("beta2").asDouble(),
                c.get("eps").asDouble(),
                c.get("weight_decay").asDouble());
    }

    private static Map<String, NDArray> initParams(NDManager m) {
        Map<String, NDArray> params = new LinkedHashMap<>();
        for (Iterator<String> it = GOLDEN.get("shapes").fieldNames(); it.hasNext(); ) {
            String k = it.next();
            Shape shape = new Shape(Golden.longs(GOLDEN.get("shapes").get(k)));
            params.put(k, m.create(toFloats(doubles(GOLDEN.get("init").get(k))), shape));
        }
        return params;
    }

    private static void stepWithGolden(AdamW opt, NDManager m, Map<String, NDArray> params, int s) {
        JsonNode step = GOLDEN.get("steps").get(s);
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            float[] g = toFloats(doubles(step.get("grads").get(e.getKey())));
            try (NDArray grad = m.create(g, e.getValue().getShape())) {
                opt.update(e.getKey(), e.getValue(), grad, step.get("lr").asDouble());
            }
        }
    }

    @Test
    void fiveStepsMatchTorchAdamW() {
        try (NDManager m = NDManager.newBaseManager();
                AdamW opt = new AdamW(m, config())) {
            Map<String, NDArray> params = initParams(m);
            for (int s = 0; s < GOLDEN.get("steps").size(); s++) {
                stepWithGolden(opt, m, params, s);
                for (Map.Entry<String, NDArray> e : params.entrySet()) {
                    double[] want =
                            doubles(GOLDEN.get("steps").get(s).get("params").get(e.getKey()));
                    assertMaxAbs(want, e.getValue(), 1e-6, "step " + (s + 1) + " " + e.getKey());
                }
            }
            assertEquals(5, opt.step("bias"));
        }
    }

    @Test
    void exportImportContinuesBitForBit() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> straight = initParams(m);
            Map<String, NDArray> resumed = initParams(m);
            try (AdamW a = new AdamW(m, config())) {
                for (int s = 0; s < 5; s++) {
                    stepWithGolden(a, m, straight, s);
                }
            }
            Map<String, AdamW.ParamState> saved;
            try (AdamW b = new AdamW(m, config())) {
                for (int s = 0; s < 2; s++) {
                    stepWithGolden(b, m, resumed, s);
                }
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                AdamW.write(b.exportState(), new DataOutputStream(bytes));
                saved = AdamW.read(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
            }
            try (AdamW c = new AdamW(m, config())) {
                c.importState(saved, Device.cpu());
                assertEquals(2, c.step("layers.0.q_proj.lora_A"));
                for (int s = 2; s < 5; s++) {
                    stepWithGolden(c, m, resumed, s);
                }
            }
            for (String k : straight.keySet()) {
                assertArrayEquals(straight.get(k).toFloatArray(), resumed.get(k).toFloatArray(), 0f, k);
            }
        }
    }

    /** After in-place updates the parameter still requires grad and gets correct gradients. */
    @Test
    void gradientsStillFlowAfterAnUpdate() {
        try (NDManager m = NDManager.newBaseManager();
                AdamW opt = new AdamW(m, AdamW.Config.defaults())) {
            NDArray w = m.create(new float[] {1f, -2f, 3f});
            w.setRequiresGradient(true);
            Map<String, NDArray> params = Map.of("w", w);
            for (int s = 0; s < 3; s++) {
                try (NDManager step = m.newSubManager();
                        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray x = step.create(new float[] {0.5f, 1f, -1f});
                    NDArray loss = w.mul(x).sum(); // dL/dw = x
                    loss.attach(step);
                    gc.backward(loss);
                }
                assertArrayEquals(new float[] {0.5f, 1f, -1f}, w.getGradient().toFloatArray(), "grad at step " + s);
                float[] before = w.toFloatArray();
                opt.step(params, 0.1);
                float[] after = w.toFloatArray();
                // Adam's first steps move each weight by about lr against the gradient's sign.
                assertEquals(before[0] - 0.1f, after[0], 1e-3);
                assertEquals(before[2] + 0.1f, after[2], 1e-3);
                try (NDArray g = w.getGradient()) {
                    g.subi(g); // zero, as the loop would
                }
            }
            assertEquals(3, opt.step("w"));
        }
    }

    /** step() closes the gradient wrappers and temporaries it makes: no arrays pile up. */
    @Test
    void updatesDoNotLeakArrays() {
        try (NDManager m = NDManager.newBaseManager();
                AdamW opt = new AdamW(m, AdamW.Config.defaults())) {
            NDArray w = m.create(new float[] {1f, -2f, 3f});
            w.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = w.sum();
                gc.backward(loss);
                loss.close();
            }
            opt.step(Map.of("w", w), 0.1);
            int before = m.getManagedArrays().size();
            for (int i = 0; i < 20; i++) {
                opt.step(Map.of("w", w), 0.1);
            }
            assertEquals(before, m.getManagedArrays().size());
        }
    }

    private static void assertMaxAbs(double[] want, NDArray got, double tol, String what) {
        float[] g = got.toFloatArray();
        for (int i = 0; i < g.length; i++) {
            assertEquals(want[i], g[i], tol, what + "[" + i + "]");
        }
    }

    static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
