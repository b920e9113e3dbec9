package dev.paft.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HF config.json parsing for the Llama family, with the fields as the Hub's real files spell them. */
class HfModelConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    // Llama-2-7b-hf's config.json
    static final String LLAMA2 = "{\"architectures\":[\"LlamaForCausalLM\"],\"bos_token_id\":1,\"eos_token_id\":2,"
            + "\"hidden_act\":\"silu\",\"hidden_size\":4096,\"initializer_range\":0.02,\"intermediate_size\":11008,"
            + "\"max_position_embeddings\":4096,\"model_type\":\"llama\",\"num_attention_heads\":32,\"num_hidden_layers\":32,"
            + "\"num_key_value_heads\":32,\"pretraining_tp\":1,\"rms_norm_eps\":1e-05,\"rope_scaling\":null,"
            + "\"tie_word_embeddings\":false,\"torch_dtype\":\"float16\",\"transformers_version\":\"4.31.0.dev0\","
            + "\"use_cache\":true,\"vocab_size\":32000}";
    // Mistral-7B-v0.1 (zephyr's base)
    static final String MISTRAL = "{\"architectures\":[\"MistralForCausalLM\"],\"bos_token_id\":1,\"eos_token_id\":2,"
            + "\"hidden_act\":\"silu\",\"hidden_size\":4096,\"initializer_range\":0.02,\"intermediate_size\":14336,"
            + "\"max_position_embeddings\":32768,\"model_type\":\"mistral\",\"num_attention_heads\":32,\"num_hidden_layers\":32,"
            + "\"num_key_value_heads\":8,\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,\"sliding_window\":4096,"
            + "\"tie_word_embeddings\":false,\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.34.0.dev0\","
            + "\"use_cache\":true,\"vocab_size\":32000}";
    // Qwen2-0.5B
    static final String QWEN2 =
            "{\"architectures\":[\"Qwen2ForCausalLM\"],\"attention_dropout\":0.0,\"bos_token_id\":151643,"
                    + "\"eos_token_id\":151643,\"hidden_act\":\"silu\",\"hidden_size\":896,\"initializer_range\":0.02,"
                    + "\"intermediate_size\":4864,\"max_position_embeddings\":131072,\"max_window_layers\":24,\"model_type\":\"qwen2\","
                    + "\"num_attention_heads\":14,\"num_hidden_layers\":24,\"num_key_value_heads\":2,\"rms_norm_eps\":1e-06,"
                    + "\"rope_theta\":1000000.0,\"sliding_window\":131072,\"tie_word_embeddings\":true,\"torch_dtype\":\"bfloat16\","
                    + "\"transformers_version\":\"4.40.1\",\"use_cache\":true,\"use_sliding_window\":false,\"vocab_size\":151936}";
    // Llama-3.2-1B: GQA, llama3 rope scaling, tied embeddings, explicit head_dim
    static final String LLAMA3 =
            "{\"architectures\":[\"LlamaForCausalLM\"],\"attention_bias\":false,\"attention_dropout\":0.0,"
                    + "\"bos_token_id\":128000,\"eos_token_id\":128001,\"head_dim\":64,\"hidden_act\":\"silu\",\"hidden_size\":2048,"
                    + "\"initializer_range\":0.02,\"intermediate_size\":8192,\"max_position_embeddings\":131072,\"mlp_bias\":false,"
                    + "\"model_type\":\"llama\",\"num_attention_heads\":32,\"num_hidden_layers\":16,\"num_key_value_heads\":8,"
                    + "\"pretraining_tp\":1,\"rms_norm_eps\":1e-05,\"rope_scaling\":{\"factor\":32.0,\"high_freq_factor\":4.0,"
                    + "\"low_freq_factor\":1.0,\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"},"
                    + "\"rope_theta\":500000.0,\"tie_word_embeddings\":true,\"torch_dtype\":\"bfloat16\","
                    + "\"transformers_version\":\"4.45.0.dev0\",\"use_cache\":true,\"vocab_size\":128256}";

    static HfModelConfig parse(String json) throws IOException {
        return HfModelConfig.parse(JSON.readTree(json), "config.json");
    }

    @Test
    void llama2() throws IOException {
        HfModelConfig c = parse(LLAMA2);
        assertEquals("LlamaForCausalLM", c.architecture());
        assertEquals("llama", c.modelType());
        assertEquals(32000, c.vocabSize());
        assertEquals(4096, c.hiddenSize());
        assertEquals(11008, c.intermediateSize());
        assertEquals(32, c.numLayers());
        assertEquals(32, c.numHeads());
        assertEquals(32, c.numKvHeads());
        assertEquals(128, c.headDim());
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals(10000.0, c.ropeTheta(), "default rope_theta");
        assertNull(c.ropeScaling());
        assertFalse(c.tieWordEmbeddings());
        assertFalse(c.attentionBias());
        assertEquals(4096, c.maxPositionEmbeddings());
        assertEquals("float16", c.torchDtype());
    }

    @Test
    void mistralGqa() throws IOException {
        HfModelConfig c = parse(MISTRAL);
        assertEquals("MistralForCausalLM", c.architecture());
        assertEquals(8, c.numKvHeads());
        assertEquals(128, c.headDim());
        assertEquals(14336, c.intermediateSize());
        assertEquals(10000.0, c.ropeTheta());
        assertFalse(c.attentionBias());
        assertEquals("bfloat16", c.torchDtype());
    }

    @Test
    void qwen2HasBiasesAndTiedEmbeddings() throws IOException {
        HfModelConfig c = parse(QWEN2);
        assertTrue(c.attentionBias(), "Qwen2 q/k/v carry biases");
        assertTrue(c.tieWordEmbeddings());
        assertEquals(2, c.numKvHeads());
        assertEquals(64, c.headDim());
        assertEquals(1e6, c.ropeTheta());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(151936, c.vocabSize());
    }

    @Test
    void llama3RopeScaling() throws IOException {
        HfModelConfig c = parse(LLAMA3);
        assertEquals(64, c.headDim());
        assertEquals(500000.0, c.ropeTheta());
        assertTrue(c.tieWordEmbeddings());
        HfModelConfig.RopeScaling s = c.ropeScaling();
        assertEquals("llama3", s.type());
        assertEquals(32.0, s.factor());
        assertEquals(1.0, s.lowFreqFactor());
        assertEquals(4.0, s.highFreqFactor());
        assertEquals(8192, s.originalMaxPositionEmbeddings());
        assertEquals(131072, c.maxPositionEmbeddings());
        // older transformers spelled it "type"
        ObjectNode old = (ObjectNode) JSON.readTree(LLAMA3);
        ((ObjectNode) old.get("rope_scaling")).remove("rope_type");
        ((ObjectNode) old.get("rope_scaling")).put("type", "llama3");
        assertEquals(
                "llama3", HfModelConfig.parse(old, "config.json").ropeScaling().type());
    }

    @Test
    void readsFromADirectoryAndKeepsRaw() throws IOException {
        Files.writeString(tmp.resolve("config.json"), MISTRAL);
        HfModelConfig c = HfModelConfig.read(tmp);
        assertEquals(4096, c.raw().get("sliding_window").asInt());
        PaftException e = assertThrows(PaftException.class, () -> HfModelConfig.read(tmp.resolve("nope")));
        assertEquals(3, e.exitCode());
        assertTrue(e.getMessage().contains("config.json"));
        Files.writeString(tmp.resolve("config.json"), "{\"architectures\": [");
        e = assertThrows(PaftException.class, () -> HfModelConfig.read(tmp));
        assertEquals(3, e.exitCode());
        assertTrue(e.getMessage().contains("config.json"));
    }

    private static PaftException bad(String json, String... fragments) {
        PaftException e = assertThrows(PaftException.class, () -> parse(json));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().startsWith("config.json"), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
        }
        return e;
    }

    private static String with(String base, String key, Object value) throws IOException {
        ObjectNode n = (ObjectNode) JSON.readTree(base);
        n.set(key, JSON.valueToTree(value));
        return n.toString();
    }

    @Test
    void errors() throws IOException {
        bad(
                with(LLAMA2, "architectures", new String[] {"GPT2LMHeadModel"}),
                "architectures",
                "GPT2LMHeadModel",
                "not supported");
        bad(with(LLAMA2, "architectures", new String[0]), "architectures");
        bad(with(LLAMA2, "architectures", "LlamaForCausalLM"), "architectures");
        ObjectNode noArch = (ObjectNode) JSON.readTree(LLAMA2);
        noArch.remove("architectures");
        bad(noArch.toString(), "architectures");
        bad(with(LLAMA2, "hidden_size", 0), "hidden_size");
        bad(with(LLAMA2, "hidden_size", "4096"), "hidden_size");
        bad(with(LLAMA2, "vocab_size", 1.5), "vocab_size");
        ObjectNode noLayers = (ObjectNode) JSON.readTree(LLAMA2);
        noLayers.remove("num_hidden_layers");
        bad(noLayers.toString(), "num_hidden_layers", "missing");
        bad(with(MISTRAL, "num_key_value_heads", 5), "num_key_value_heads");
        bad(with(LLAMA2, "hidden_size", 4097), "hidden_size", "multiple");
        bad(with(LLAMA2, "rope_scaling", Map.of("type", "yarn", "factor", 4.0)), "rope_scaling", "yarn");
    }

    @Test
    void newerTransformersDtypeKey() throws IOException {
        ObjectNode n = (ObjectNode) JSON.readTree(LLAMA3);
        n.remove("torch_dtype");
        n.put("dtype", "bfloat16");
        assertEquals("bfloat16", HfModelConfig.parse(n, "config.json").torchDtype());
        JsonNode linear = JSON.readTree(with(LLAMA2, "rope_scaling", Map.of("rope_type", "default")));
        assertNull(HfModelConfig.parse(linear, "config.json").ropeScaling());
    }
}
