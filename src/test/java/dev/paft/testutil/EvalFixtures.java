package dev.paft.testutil;

import ai.djl.Device;
import dev.paft.io.DType;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A tiny random Llama directory (hidden 32, 2 layers, 4 heads, 2 KV heads, MLP 64, vocab 32000,
 * tied) with the Llama-2 test tokenizer and zephyr chat template, and a random non-zero PEFT adapter
 * over it: the evaluators' test model.
 */
public final class EvalFixtures {
    public static final Path TOKENIZER = TestTokenizers.LLAMA2;
    public static final Path RESOURCES = Path.of("src/test/resources/eval");
    public static final int VOCAB = 32000;
    public static final int HIDDEN = 32;
    public static final int LAYERS = 2;
    public static final int HEADS = 4;
    public static final int KV_HEADS = 2;
    public static final int MLP = 64;

    private EvalFixtures() {}

    public static Device cpu() {
        return Fixtures.cpu();
    }

    /** Writes the model directory; {@code eosIds} is config.json's {@code eos_token_id} list. */
    public static Path model(Path dir, long seed, int... eosIds) {
        String eos = eosIds.length == 0 ? "2" : Arrays.toString(eosIds);
        return TinyModels.llama(dir, seed, VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, MLP, 0.3f, eos);
    }

    /** A random adapter with non-zero A and B on q, v, up and down of every layer (r 4, alpha 8). */
    public static Path adapter(Path dir, long seed) {
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
        return new PeftAdapter.LoraPair(TinyModels.rand(rng, 0.3f, r, in), TinyModels.rand(rng, 0.3f, out, r));
    }
}
