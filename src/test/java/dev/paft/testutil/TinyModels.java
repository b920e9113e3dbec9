package dev.paft.testutil;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.Json;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * Tiny random Llama model directories for end-to-end tests: config.json, model.safetensors
 * (HF names) and the Llama-2 test tokenizer (vocab 32000) with the zephyr chat template; and the
 * merge tests' partial weight sets ({@link #randomWeights}: only the tensors a merge streams).
 */
public final class TinyModels {
    private TinyModels() {}

    public static final Path TOKENIZER = TestTokenizers.LLAMA2;

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
                    Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
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
    public static Path llama(
            Path dir,
            long seed,
            int vocab,
            int hidden,
            int layers,
            int heads,
            int kvHeads,
            int mlp,
            float scale,
            String eosJson) {
        try {
            Files.createDirectories(dir);
            int headDim = hidden / heads;
            String config = String.format(Locale.ROOT, """
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
                Files.copy(TOKENIZER.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A [rows, cols] tensor drawn from U(-scale, scale). */
    public static FloatTensor rand(SplittableRandom rng, float scale, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rng.nextDouble() * 2 - 1) * scale);
        }
        return FloatTensor.of(v, rows, cols);
    }

    /** A vector of n ones (a norm weight). */
    public static FloatTensor ones(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return FloatTensor.of(v, n);
    }
    /**
     * A Llama {@code config.json} of this shape (rms_norm_eps 1e-5); callers add the other keys they need
     * (rope_theta, max_position_embeddings, torch_dtype, ...).
     */
    public static ObjectNode llamaConfig(int vocab, int hidden, int mlp, int layers, int heads, int kvHeads) {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("vocab_size", vocab);
        c.put("hidden_size", hidden);
        c.put("intermediate_size", mlp);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        c.put("rms_norm_eps", 1e-5);
        return c;
    }

    // ---------------------------------------------------------------- merge fixtures

    /** Layers of {@link #randomWeights}. */
    public static final int LAYERS = 3;

    /**
     * A tiny Llama-shaped weight set with seeded N(0, 1) values: embeddings [8, 4], per layer q_proj [4, 4],
     * up_proj [6, 4] and the input norm, the final norm and lm_head. Not a loadable model (no k/v/o, gate,
     * down): what the merge tests stream.
     */
    public static Map<String, FloatTensor> randomWeights(long seed) {
        Random r = new Random(seed);
        Map<String, FloatTensor> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", rand(r, 8, 4));
        for (int i = 0; i < LAYERS; i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "self_attn.q_proj.weight", rand(r, 4, 4));
            m.put(p + "mlp.up_proj.weight", rand(r, 6, 4));
            m.put(p + "input_layernorm.weight", rand(r, 4));
        }
        m.put("model.norm.weight", rand(r, 4));
        m.put("lm_head.weight", rand(r, 8, 4));
        return m;
    }

    /** A tensor of the given shape drawn from N(0, 1). */
    public static FloatTensor rand(Random r, long... shape) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return new FloatTensor(shape, v);
    }

    /** A model directory of {@code weights} (e.g. {@link #randomWeights}) stored as {@code dtype}, config for its shape. */
    public static Path writeModel(Path dir, Map<String, FloatTensor> weights, DType dtype) throws Exception {
        Files.createDirectories(dir);
        SafetensorsWriter.writeAll(dir.resolve("model.safetensors"), weights, dtype, Map.of("format", "pt"));
        ObjectNode cfg = llamaConfig(8, 4, 6, LAYERS, 2, 2);
        cfg.put("torch_dtype", dtype.torchName());
        Json.write(dir.resolve("config.json"), cfg);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"tiny\"}\n");
        Files.writeString(dir.resolve("generation_config.json"), "{\"do_sample\": false}\n");
        return dir;
    }

    /** An adapter over {@link #randomWeights}: q_proj of every layer, A [r, 4], B [4, r] random (B nonzero). */
    public static Path writeAdapter(Path dir, long seed, int r, double alpha) {
        Random rnd = new Random(seed);
        Map<String, PeftAdapter.LoraPair> mods = new LinkedHashMap<>();
        for (int i = 0; i < LAYERS; i++) {
            mods.put(
                    "model.layers." + i + ".self_attn.q_proj",
                    new PeftAdapter.LoraPair(rand(rnd, r, 4), rand(rnd, 4, r)));
        }
        PeftAdapter a = new PeftAdapter(new PeftAdapterConfig(r, alpha, 0.0, List.of("q_proj"), false, "tiny"), mods);
        a.write(dir, DType.F32, null);
        return dir;
    }
}
