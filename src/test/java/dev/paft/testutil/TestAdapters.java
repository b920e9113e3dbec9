package dev.paft.testutil;

import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Builds small PEFT adapters and model directories on disk for the report tests. */
public final class TestAdapters {
    private TestAdapters() {}

    public static PeftAdapterConfig config(int r, double alpha) {
        return new PeftAdapterConfig(
                r,
                alpha,
                0,
                List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                false,
                "test-base");
    }

    public static PeftAdapter.LoraPair pair(float[] a, int r, int in, float[] b, int out) {
        return new PeftAdapter.LoraPair(FloatTensor.of(a, r, in), FloatTensor.of(b, out, r));
    }

    /** Random factors with magnitudes spread log-uniformly over [1e-4, 1e-1], about a fifth of B exactly zero. */
    public static PeftAdapter.LoraPair randomPair(Random rnd, int r, int in, int out) {
        float[] a = new float[r * in];
        float[] b = new float[out * r];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) ((rnd.nextBoolean() ? 1 : -1) * Math.pow(10, -4 + 3 * rnd.nextDouble()));
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = rnd.nextInt(5) == 0
                    ? 0f
                    : (float) ((rnd.nextBoolean() ? 1 : -1) * Math.pow(10, -4 + 3 * rnd.nextDouble()));
        }
        return pair(a, r, in, b, out);
    }

    /** A random adapter over {@code layers} layers with q, k, v, o, gate, up, down of small sizes. */
    public static PeftAdapter random(long seed, int layers, int r, double alpha) {
        Random rnd = new Random(seed);
        int hidden = 40;
        int kv = 20;
        int mlp = 56;
        Map<String, PeftAdapter.LoraPair> m = new LinkedHashMap<>();
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            m.put(p + "self_attn.q_proj", randomPair(rnd, r, hidden, hidden));
            m.put(p + "self_attn.k_proj", randomPair(rnd, r, hidden, kv));
            m.put(p + "self_attn.v_proj", randomPair(rnd, r, hidden, kv));
            m.put(p + "self_attn.o_proj", randomPair(rnd, r, hidden, hidden));
            m.put(p + "mlp.gate_proj", randomPair(rnd, r, hidden, mlp));
            m.put(p + "mlp.up_proj", randomPair(rnd, r, hidden, mlp));
            m.put(p + "mlp.down_proj", randomPair(rnd, r, mlp, hidden));
        }
        return new PeftAdapter(config(r, alpha), m);
    }

    public static Path write(PeftAdapter a, Path dir) {
        a.write(dir, DType.F32, null);
        return dir;
    }

    /** A model directory holding these tensors (config.json is not needed by the report). */
    public static Path writeModel(Path dir, Map<String, FloatTensor> tensors, DType dtype) throws IOException {
        Files.createDirectories(dir);
        SafetensorsWriter.writeAll(dir.resolve("model.safetensors"), tensors, dtype, Map.of("format", "pt"));
        return dir;
    }
}
