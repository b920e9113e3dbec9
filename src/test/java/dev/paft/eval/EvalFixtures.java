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
        try {
            Files.createDirectories(dir);
            int headDim = HIDDEN / HEADS;
            String eos = eosIds.length == 0 ? "2" : java.util.Arrays.toString(eosIds);
            Files.writeString(dir.resolve("config.json"), String.format(Locale.ROOT, """
                    {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": %d,
                     "hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": %d,
                     "num_attention_heads": %d, "num_key_value_heads": %d, "rms_norm_eps": 1e-5,
                     "rope_theta": 10000.0, "tie_word_embeddings": true, "max_position_embeddings": 512,
                     "bos_token_id": 1, "eos_token_id": %s, "torch_dtype": "float32"}
                    """, VOCAB, HIDDEN, MLP, LAYERS, HEADS, KV_HEADS, eos));
            SplittableRandom rng = new SplittableRandom(seed);
            Map<String, FloatTensor> t = new LinkedHashMap<>();
            t.put("model.embed_tokens.weight", rand(rng, 0.5f, VOCAB, HIDDEN));
            for (int i = 0; i < LAYERS; i++) {
                String p = "model.layers." + i + ".";
                t.put(p + "self_attn.q_proj.weight", rand(rng, 0.3f, HEADS * headDim, HIDDEN));
                t.put(p + "self_attn.k_proj.weight", rand(rng, 0.3f, KV_HEADS * headDim, HIDDEN));
                t.put(p + "self_attn.v_proj.weight", rand(rng, 0.3f, KV_HEADS * headDim, HIDDEN));
                t.put(p + "self_attn.o_proj.weight", rand(rng, 0.3f, HIDDEN, HEADS * headDim));
                t.put(p + "mlp.gate_proj.weight", rand(rng, 0.3f, MLP, HIDDEN));
                t.put(p + "mlp.up_proj.weight", rand(rng, 0.3f, MLP, HIDDEN));
                t.put(p + "mlp.down_proj.weight", rand(rng, 0.3f, HIDDEN, MLP));
                t.put(p + "input_layernorm.weight", ones(HIDDEN));
                t.put(p + "post_attention_layernorm.weight", ones(HIDDEN));
            }
            t.put("model.norm.weight", ones(HIDDEN));
            SafetensorsWriter.writeAll(dir.resolve("model.safetensors"), t, DType.F32, Map.of("format", "pt"));
            for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                Files.copy(TOKENIZER.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
