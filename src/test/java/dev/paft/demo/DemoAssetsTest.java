package dev.paft.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bundled demo assets (scripts/demo/): the word-level tokenizer loads in DJL's Hugging Face
 * tokenizer and gives the same ids as the Python scripts that trained the model; the model
 * directory's config.json and safetensors header are consistent; the datasets parse.
 */
class DemoAssetsTest {
    private static final String BASE = "/dev/paft/demo/";
    private static final ObjectMapper JSON = new ObjectMapper();

    private static InputStream res(String name) {
        InputStream in = DemoAssetsTest.class.getResourceAsStream(BASE + name);
        assertNotNull(in, "missing resource " + BASE + name);
        return in;
    }

    private static Path extract(Path dir, String... names) throws IOException {
        for (String n : names) {
            try (InputStream in = res("model/" + n)) {
                Files.copy(in, dir.resolve(n));
            }
        }
        return dir;
    }

    @Test
    void tokenizerMatchesPythonFixtureAndRoundTrips(@TempDir Path dir) throws IOException {
        extract(dir, "tokenizer.json", "tokenizer_config.json");
        JsonNode fixture = JSON.readTree(res("tokenizer_fixture.json"));
        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(dir)) {
            for (JsonNode c : fixture.get("cases")) {
                String text = c.get("text").asText();
                long[] want = new long[c.get("ids").size()];
                for (int i = 0; i < want.length; i++) {
                    want[i] = c.get("ids").get(i).asLong();
                }
                long[] got = tok.encode(text).getIds();
                assertArrayEquals(want, got, "ids of " + text);
                assertEquals(c.get("decoded").asText(), tok.decode(got, true), "decode of " + text);
            }
            String s = "sure ! the answer is 7 . hope this helps !";
            long[] ids = tok.encode(s).getIds();
            assertEquals(1L, ids[0], "bos first");
            assertEquals(s, tok.decode(ids, true));
            long[] chat = tok.encode("<|user|>\nhello !</s>\n<|assistant|>\n").getIds();
            assertEquals(6, chat.length); // <s> <|user|> hello ! </s> <|assistant|>
        }
        JsonNode tc = JSON.readTree(dir.resolve("tokenizer_config.json").toFile());
        assertEquals("<s>", tc.get("bos_token").asText());
        assertEquals("</s>", tc.get("eos_token").asText());
        assertEquals("<pad>", tc.get("pad_token").asText());
        assertTrue(tc.get("chat_template").asText().contains("add_generation_prompt"));
    }

    @Test
    void modelConfigAndSafetensorsHeaderAreSane() throws IOException {
        JsonNode cfg = JSON.readTree(res("model/config.json"));
        JsonNode tokJson = JSON.readTree(res("model/tokenizer.json"));
        int vocab = tokJson.get("model").get("vocab").size();
        assertEquals(vocab, cfg.get("vocab_size").asInt());
        assertEquals("LlamaForCausalLM", cfg.get("architectures").get(0).asText());
        assertTrue(cfg.get("tie_word_embeddings").asBoolean());
        int hidden = cfg.get("hidden_size").asInt();
        int inter = cfg.get("intermediate_size").asInt();
        int layers = cfg.get("num_hidden_layers").asInt();
        int headDim = cfg.get("head_dim").asInt();
        int q = cfg.get("num_attention_heads").asInt() * headDim;
        int kv = cfg.get("num_key_value_heads").asInt() * headDim;

        byte[] st = res("model/model.safetensors").readAllBytes();
        assertTrue(st.length < 20_000_000, "bundled model must stay small");
        long n = ByteBuffer.wrap(st, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "header padded to 8 bytes");
        JsonNode header = JSON.readTree(new String(st, 8, (int) n, StandardCharsets.UTF_8));
        Map<String, int[]> want = new HashMap<>();
        want.put("model.embed_tokens.weight", new int[] {vocab, hidden});
        want.put("model.norm.weight", new int[] {hidden});
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            want.put(p + "self_attn.q_proj.weight", new int[] {q, hidden});
            want.put(p + "self_attn.k_proj.weight", new int[] {kv, hidden});
            want.put(p + "self_attn.v_proj.weight", new int[] {kv, hidden});
            want.put(p + "self_attn.o_proj.weight", new int[] {hidden, q});
            want.put(p + "mlp.gate_proj.weight", new int[] {inter, hidden});
            want.put(p + "mlp.up_proj.weight", new int[] {inter, hidden});
            want.put(p + "mlp.down_proj.weight", new int[] {hidden, inter});
            want.put(p + "input_layernorm.weight", new int[] {hidden});
            want.put(p + "post_attention_layernorm.weight", new int[] {hidden});
        }
        Set<String> seen = new HashSet<>();
        long total = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            assertEquals("F32", t.get("dtype").asText(), e.getKey());
            int[] shape = want.get(e.getKey());
            assertNotNull(shape, "unexpected tensor " + e.getKey());
            long elems = 1;
            for (int i = 0; i < shape.length; i++) {
                assertEquals(shape[i], t.get("shape").get(i).asInt(), e.getKey());
                elems *= shape[i];
            }
            long a = t.get("data_offsets").get(0).asLong();
            long b = t.get("data_offsets").get(1).asLong();
            assertEquals(elems * 4, b - a, e.getKey());
            total += b - a;
            seen.add(e.getKey());
        }
        assertEquals(want.keySet(), seen);
        assertEquals(st.length, 8 + n + total, "file size = header + data");
    }

    @Test
    void datasetsParse() throws IOException {
        assertTrue(lines("sft_train.jsonl", "messages") >= 1000);
        assertTrue(lines("sft_test.jsonl", "messages") >= 200);
        assertTrue(lines("pref_train.jsonl", "chosen") >= 1000);
        assertTrue(lines("pref_test.jsonl", "rejected") >= 200);
        assertTrue(lines("task_mc.jsonl", "choices") >= 200);
        assertTrue(lines("pref_mc.jsonl", "gold") >= 200);
    }

    private static int lines(String name, String requiredKey) throws IOException {
        int n = 0;
        try (BufferedReader r =
                new BufferedReader(new InputStreamReader(res("data/" + name), StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                JsonNode rec = JSON.readTree(line);
                assertTrue(rec.has(requiredKey), name + ":" + (n + 1));
                if (rec.has("gold")) {
                    int g = rec.get("gold").asInt();
                    assertTrue(g >= 0 && g < rec.get("choices").size(), name + ":" + (n + 1));
                }
                n++;
            }
        }
        return n;
    }
}
