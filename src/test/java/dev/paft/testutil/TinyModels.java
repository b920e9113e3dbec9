package dev.paft.testutil;

import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Tiny random Llama model directories for end-to-end tests: config.json, model.safetensors
 * (HF names) and the Llama-2 test tokenizer (vocab 32000) with the zephyr chat template.
 */
public final class TinyModels {
    private TinyModels() {}

    public static final Path TOKENIZER = Path.of("src/test/resources/tokenizers/llama2");

    /** The bundled demo model (a pretrained tiny Llama, vocab 276, word-level tokenizer). */
    public static final Path DEMO_MODEL = Path.of("src/main/resources/dev/paft/demo/model");

    /** Writes a random tied Llama (hidden 32, 2 layers, 4 heads, 2 KV heads, MLP 64, vocab 32000, Llama-2 tokenizer). */
    public static Path llama(Path dir, long seed) {
        return llama(dir, seed, 32000, 32, 2, 4, 2, 64);
    }

    /** A copy of the bundled demo model in {@code dir} (fast: use it for end-to-end training tests). */
    public static Path demo(Path dir) {
        try {
            Files.createDirectories(dir);
            try (var s = Files.list(DEMO_MODEL)) {
                for (Path f : s.toList()) {
                    Files.copy(f, dir.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path llama(Path dir, long seed, int vocab, int hidden, int layers, int heads, int kvHeads, int mlp) {
        return llama(dir, seed, vocab, hidden, layers, heads, kvHeads, mlp, 0.2f, "2");
    }

    /**
     * As above with the projection weights drawn from U(-scale, scale) (embeddings U(-0.5, 0.5)) and
     * {@code eosJson} as config.json's {@code eos_token_id} (a number or a JSON list).
     */
    public static Path llama(Path dir, long seed, int vocab, int hidden, int layers, int heads, int kvHeads, int mlp,
                             float scale, String eosJson) {
        try {
            Files.createDirectories(dir);
            int headDim = hidden / heads;
            String config = String.format(java.util.Locale.ROOT, """
                    {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": %d,
                     "hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": %d,
                     "num_attention_heads": %d, "num_key_value_heads": %d, "rms_norm_eps": 1e-5,
                     "rope_theta": 10000.0, "tie_word_embeddings": true, "max_position_embeddings": 512,
                     "bos_token_id": 1, "eos_token_id": %s, "torch_dtype": "float32"}
                    """, vocab, hidden, mlp, layers, heads, kvHeads, eosJson);
            Files.writeString(dir.resolve("config.json"), config);
            SplittableRandom rng = new SplittableRandom(seed);
            Map<String, FloatTensor> t = new LinkedHashMap<>();
            t.put("model.embed_tokens.weight", rand(rng, 0.5f, vocab, hidden));
            for (int i = 0; i < layers; i++) {
                String p = "model.layers." + i + ".";
                t.put(p + "self_attn.q_proj.weight", rand(rng, scale, heads * headDim, hidden));
                t.put(p + "self_attn.k_proj.weight", rand(rng, scale, kvHeads * headDim, hidden));
                t.put(p + "self_attn.v_proj.weight", rand(rng, scale, kvHeads * headDim, hidden));
                t.put(p + "self_attn.o_proj.weight", rand(rng, scale, hidden, heads * headDim));
                t.put(p + "mlp.gate_proj.weight", rand(rng, scale, mlp, hidden));
                t.put(p + "mlp.up_proj.weight", rand(rng, scale, mlp, hidden));
                t.put(p + "mlp.down_proj.weight", rand(rng, scale, hidden, mlp));
                t.put(p + "input_layernorm.weight", ones(hidden));
                t.put(p + "post_attention_layernorm.weight", ones(hidden));
            }
            t.put("model.norm.weight", ones(hidden));
            SafetensorsWriter.writeAll(dir.resolve("model.safetensors"), t, DType.F32, Map.of("format", "pt"));
            for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                Files.copy(TOKENIZER.resolve(f), dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
