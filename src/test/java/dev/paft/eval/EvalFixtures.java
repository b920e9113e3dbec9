package dev.paft.eval;

import ai.djl.Device;
import dev.paft.engine.Engines;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A tiny random Llama directory (hidden 32, 2 layers, 4 heads, 2 KV heads, MLP 64, vocab 32000,
 * tied) with the Llama-2 test tokenizer and zephyr chat template, and a random non-zero PEFT adapter
 * over it: the evaluators' test model.
 */
final class EvalFixtures {
    static final Path TOKENIZER = Path.of("src/test/resources/tokenizers/llama2");
    static final Path RESOURCES = Path.of("src/test/resources/eval");
    static final int VOCAB = 32000;
    static final int HIDDEN = 32;
    static final int LAYERS = 2;
    static final int HEADS = 4;
    static final int KV_HEADS = 2;
    static final int MLP = 64;

    private EvalFixtures() {}

    static Device cpu() {
        return Engines.start("cpu", 0);
    }

    /** Writes the model directory; {@code eosIds} is config.json's {@code eos_token_id} list. */
    static Path model(Path dir, long seed, int... eosIds) {
        String eos = eosIds.length == 0 ? "2" : java.util.Arrays.toString(eosIds);
        return dev.paft.testutil.TinyModels.llama(dir, seed, VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, MLP, 0.3f, eos);
    }

    /** A random adapter with non-zero A and B on q, v, up and down of every layer (r 4, alpha 8). */
    static Path adapter(Path dir, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int r = 4;
        int kv = KV_HEADS * (HIDDEN / HEADS);
        Map<String, PeftAdapter.LoraPair> m = new LinkedHashMap<>();
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            m.put(p + "self_attn.q_proj", pair(rng, r, HIDDEN, HIDDEN));
            m.put(p + "self_attn.v_proj", pair(rng, r, HIDDEN, kv));
            m.put(p + "mlp.up_proj", pair(rng, r, HIDDEN, MLP));
            m.put(p + "mlp.down_proj", pair(rng, r, MLP, HIDDEN));
        }
        var cfg = new PeftAdapterConfig(r, 8, 0.0, List.of("q_proj", "v_proj", "up_proj", "down_proj"), false, "tiny");
        new PeftAdapter(cfg, m).write(dir, DType.F32, null);
        return dir;
    }

    private static PeftAdapter.LoraPair pair(SplittableRandom rng, int r, int in, int out) {
        return new PeftAdapter.LoraPair(rand(rng, 0.3f, r, in), rand(rng, 0.3f, out, r));
    }

    private static FloatTensor rand(SplittableRandom rng, float scale, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rng.nextDouble() * 2 - 1) * scale);
        }
        return FloatTensor.of(v, rows, cols);
    }

    private static FloatTensor ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return FloatTensor.of(v, n);
    }
}
