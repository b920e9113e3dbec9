package dev.paft.merge;

import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.Json;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Builds tiny HF model and PEFT adapter directories with the io writers. */
final class TinyModels {
    private TinyModels() {}

    static final int LAYERS = 3;

    /** A tiny Llama-shaped weight set with seeded random values. */
    static Map<String, FloatTensor> randomWeights(long seed) {
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

    static FloatTensor rand(Random r, long... shape) {
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

    static Path writeModel(Path dir, Map<String, FloatTensor> weights, DType dtype) throws Exception {
        Files.createDirectories(dir);
        SafetensorsWriter.writeAll(dir.resolve("model.safetensors"), weights, dtype, Map.of("format", "pt"));
        var cfg = Json.MAPPER.createObjectNode();
        cfg.putArray("architectures").add("LlamaForCausalLM");
        cfg.put("model_type", "llama");
        cfg.put("hidden_size", 4);
        cfg.put("intermediate_size", 6);
        cfg.put("num_attention_heads", 2);
        cfg.put("num_key_value_heads", 2);
        cfg.put("num_hidden_layers", LAYERS);
        cfg.put("vocab_size", 8);
        cfg.put("torch_dtype", dtype.torchName());
        Json.write(dir.resolve("config.json"), cfg);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"tiny\"}\n");
        Files.writeString(dir.resolve("generation_config.json"), "{\"do_sample\": false}\n");
        return dir;
    }

    /** An adapter on q_proj of every layer: A [r, 4], B [4, r] random (B nonzero). */
    static Path writeAdapter(Path dir, long seed, int r, double alpha) {
        Random rnd = new Random(seed);
        Map<String, PeftAdapter.LoraPair> mods = new LinkedHashMap<>();
        for (int i = 0; i < LAYERS; i++) {
            mods.put("model.layers." + i + ".self_attn.q_proj", new PeftAdapter.LoraPair(rand(rnd, r, 4), rand(rnd, 4, r)));
        }
        PeftAdapter a = new PeftAdapter(new PeftAdapterConfig(r, alpha, 0.0, List.of("q_proj"), false, "tiny"), mods);
        a.write(dir, DType.F32, null);
        return dir;
    }
}
