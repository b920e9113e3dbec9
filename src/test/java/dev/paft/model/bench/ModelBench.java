package dev.paft.model.bench;

import ai.djl.Device;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.LoraConfig;
import dev.paft.engine.Engines;
import dev.paft.io.HfModelConfig;
import dev.paft.lora.LoraAdapter;
import dev.paft.model.Autograd;
import dev.paft.model.LabelScorer;
import dev.paft.model.LlamaModel;
import dev.paft.testutil.Fixtures;
import dev.paft.testutil.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Model benchmarks (not a unit test), run by scripts/bench/model-bench.sh.
 *
 * <pre>
 * speed  [steps]            forward and forward+backward tokens/s, vocab 32000, hidden 256, 4 layers,
 *                           8 heads, MLP 688, seq 256, batch 8, LoRA r 8 on q,k,v,o, synthetic weights
 * memory [steps] [seq] [batch]  forward+backward+SGD steps, each in its own scope; prints VmRSS
 * </pre>
 */
public final class ModelBench {
    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "speed";
        Engines.start("cpu", 0);
        HfModelConfig cfg = config();
        boolean f16 = Boolean.getBoolean("bench.f16");
        try (LlamaModel model = LlamaModel.random(cfg, 1, Device.cpu(), f16);
                LoraAdapter adapter = model.newAdapter(
                        new LoraConfig(8, 16, 0, List.of("q_proj", "k_proj", "v_proj", "o_proj"), false),
                        1,
                        "synthetic")) {
            if (mode.equals("speed")) {
                int steps = args.length > 1 ? Integer.parseInt(args[1]) : 5;
                speed(model, adapter, steps, 8, 256);
            } else {
                int steps = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
                int seq = args.length > 2 ? Integer.parseInt(args[2]) : 64;
                int batch = args.length > 3 ? Integer.parseInt(args[3]) : 2;
                memory(model, adapter, steps, batch, seq);
            }
        }
    }

    static HfModelConfig config() {
        ObjectNode c = TinyModels.llamaConfig(32000, 256, 688, 4, 8, 8);
        c.put("max_position_embeddings", 2048);
        return HfModelConfig.parse(c, "bench");
    }

    static NDArray ids(NDManager m, SplittableRandom r, int b, int t) {
        long[] v = new long[b * t];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt(32000);
        }
        return m.create(v, new Shape(b, t));
    }

    /** One training-like step in its own scope: forward, mean CE, backward, SGD update, zero grads. */
    static float trainStep(
            LlamaModel model, LoraAdapter adapter, NDManager parent, SplittableRandom r, int b, int t, NDArray lr) {
        try (NDManager scope = parent.newSubManager()) {
            boolean was = Autograd.setGradMode(true);
            NDArray ids = ids(scope, r, b, t);
            double loss = Fixtures.ce(
                            model,
                            scope,
                            ids,
                            null,
                            ids.toLongArray(),
                            adapter,
                            true,
                            true,
                            LabelScorer.DEFAULT_CHUNK,
                            0)
                    .loss();
            Autograd.setGradMode(false);
            for (NDArray p : adapter.parameters()) {
                NDArray g = p.getGradient();
                g.attach(scope);
                p.subi(g.mul(lr));
            }
            adapter.zeroGradients();
            float l = (float) loss;
            Autograd.setGradMode(was);
            return l;
        }
    }

    static void speed(LlamaModel model, LoraAdapter adapter, int steps, int b, int t) {
        SplittableRandom r = new SplittableRandom(7);
        NDManager root = model.manager();
        NDArray lr = model.scalar(1e-4);
        // warm-up
        trainStep(model, adapter, root, r, b, t, lr);
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            try (NDManager scope = root.newSubManager()) {
                Autograd.noGrad(() -> model.forward(scope, ids(scope, r, b, t), null, adapter, false)
                        .getFloat(0, 0, 0));
            }
        }
        double fwd = (System.nanoTime() - t0) / 1e9 / steps;
        t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            trainStep(model, adapter, root, r, b, t, lr);
        }
        double fb = (System.nanoTime() - t0) / 1e9 / steps;
        System.out.printf(
                "config: vocab 32000, hidden 256, 4 layers, 8 heads, MLP 688, seq %d, batch %d, LoRA r 8 q,k,v,o, f16Storage=%s%n",
                t, b, model.f16Storage());
        System.out.printf("forward (no-grad):          %.3f s/step  %.0f tokens/s%n", fwd, b * t / fwd);
        System.out.printf("forward+backward(+SGD):     %.3f s/step  %.0f tokens/s%n", fb, b * t / fb);
        System.out.printf("RSS %d MB%n", rssMb());
    }

    static void memory(LlamaModel model, LoraAdapter adapter, int steps, int b, int t) {
        SplittableRandom r = new SplittableRandom(7);
        NDArray lr = model.scalar(1e-4);
        long t0 = System.nanoTime();
        for (int i = 1; i <= steps; i++) {
            float loss = trainStep(model, adapter, model.manager(), r, b, t, lr);
            if (i == 1 || i == 10 || i % 100 == 0) {
                Runtime rt = Runtime.getRuntime();
                System.out.printf(
                        "step %d loss %.4f RSS %d MB (Java heap committed %d MB), live DJL resources %d (%.2f s/step)%n",
                        i,
                        loss,
                        rssMb(),
                        rt.totalMemory() >> 20,
                        resources(model.manager()),
                        (System.nanoTime() - t0) / 1e9 / i);
            }
        }
    }

    /** Arrays and sub-managers alive under a manager, recursively (a leak shows as a growing count). */
    static int resources(NDManager m) {
        try {
            var f = BaseNDManager.class.getDeclaredField("resources");
            f.setAccessible(true);
            var map = (Map<?, ?>) f.get(m);
            int n = 0;
            for (Object r : map.values()) {
                n += 1 + (r instanceof NDManager sub ? resources(sub) : 0);
            }
            return n;
        } catch (ReflectiveOperationException e) {
            return -1;
        }
    }

    static long rssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }
}
