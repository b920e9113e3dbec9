package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.data.TextTokenizer;
import dev.paft.data.TokenizerConfig;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.Json;
import dev.paft.io.SafetensorsWriter;
import dev.paft.testutil.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A union tokenizer merge on Llama-2's real BPE tokenizer (32000 tokens, byte fallback): the base's
 * tokenizer stripped to its vocab_size (31990: the last 10 tokens dropped, as mergekit's
 * get_stripped_tokenizer does), the other model's tokens it lacks added back after it, the other
 * model's added {@code <|im_end|>} last; the written tokenizer.json loads with paft's tokenizer
 * (DJL) and encodes to those ids, and the embedding rows follow (hand-computed: a token only one
 * model has takes its row in both, so the mean is that row).
 */
class TokenizerMergeRealTest {
    @TempDir
    Path tmp;

    static final Path LLAMA2 = Path.of("src/test/resources/tokenizers/llama2");

    private Path model(String name, int vocab, boolean imEnd, long seed) throws Exception {
        Path d = Files.createDirectories(tmp.resolve(name));
        Random r = new Random(seed);
        Map<String, FloatTensor> w = new LinkedHashMap<>();
        w.put("model.embed_tokens.weight", TinyModels.rand(r, vocab, 2));
        w.put("model.layers.0.input_layernorm.weight", TinyModels.rand(r, 2));
        w.put("model.norm.weight", TinyModels.rand(r, 2));
        w.put("lm_head.weight", TinyModels.rand(r, vocab, 2));
        SafetensorsWriter.writeAll(d.resolve("model.safetensors"), w, DType.F32, Map.of("format", "pt"));
        ObjectNode cfg = Json.MAPPER.createObjectNode();
        cfg.put("model_type", "llama");
        cfg.put("num_hidden_layers", 1);
        cfg.put("hidden_size", 2);
        cfg.put("vocab_size", vocab);
        Json.write(d.resolve("config.json"), cfg);
        ObjectNode tj = (ObjectNode) Json.readObject(LLAMA2.resolve("tokenizer.json"));
        ObjectNode tc = (ObjectNode) Json.readObject(LLAMA2.resolve("tokenizer_config.json"));
        if (imEnd) {
            ObjectNode a = tj.withArray("added_tokens").addObject();
            a.put("id", 32000)
                    .put("content", "<|im_end|>")
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", true);
            ObjectNode e = a.deepCopy();
            e.remove("id");
            ((ObjectNode) tc.get("added_tokens_decoder")).set("32000", e);
        }
        Json.write(d.resolve("tokenizer.json"), tj);
        Json.write(d.resolve("tokenizer_config.json"), tc);
        return d;
    }

    @Test
    void unionOfLlama2TokenizersLoadsAndRowsFollow() throws Exception {
        Path base = model("base", 31990, false, 1);
        Path b = model("b", 32001, true, 2);
        Path cfg = tmp.resolve("m.yml");
        Files.writeString(
                cfg,
                "models:\n  - model: " + base + "\n    parameters: {weight: 1}\n  - model: " + b
                        + "\n    parameters: {weight: 1}\nmerge_method: linear\ntokenizer_source: union\n");
        Path out = tmp.resolve("out");
        MergeRunner.run(MergeSpec.fromMergekit(cfg), new MergeRunner.Options(out, false));
        assertEquals(
                32001,
                Json.readObject(out.resolve("config.json")).get("vocab_size").asInt());
        TokenizerMerge.Vocab v = TokenizerMerge.readVocab(out, false);
        TokenizerMerge.Vocab orig = TokenizerMerge.readVocab(LLAMA2, false);
        // the stripped tokens come back as added tokens, in b's id order, at the same ids; then <|im_end|>
        for (var e : orig.ids().entrySet()) {
            assertEquals(e.getValue(), v.ids().get(e.getKey()), e.getKey());
        }
        assertEquals(32000, v.ids().get("<|im_end|>"));
        assertEquals(
                31990,
                ((ObjectNode) Json.readObject(out.resolve("tokenizer.json")).get("model"))
                        .get("vocab")
                        .size());
        try (TextTokenizer t = TextTokenizer.open(out)) {
            assertEquals(32000, t.tokenId("<|im_end|>"));
            assertEquals(31999, t.tokenId("梦"));
            int[] ids = t.encode("hello<|im_end|>");
            assertEquals(32000, ids[ids.length - 1]);
            try (TextTokenizer ref = TextTokenizer.open(LLAMA2)) {
                assertEquals(
                        Arrays.toString(ref.encode("The quick brown fox")),
                        Arrays.toString(t.encode("The quick brown fox")));
            }
        }
        Map<String, float[]> got = MergeFidelityTest.read(out);
        Map<String, float[]> wb = MergeFidelityTest.read(base);
        Map<String, float[]> w2 = MergeFidelityTest.read(b);
        for (String n : new String[] {"model.embed_tokens.weight", "lm_head.weight"}) {
            float[] g = got.get(n);
            assertEquals(32001 * 2, g.length);
            for (int h = 0; h < 2; h++) {
                assertEquals(
                        (wb.get(n)[5 * 2 + h] + w2.get(n)[5 * 2 + h]) / 2f, g[5 * 2 + h], 1e-6); // both have token 5
                assertEquals(w2.get(n)[31999 * 2 + h], g[31999 * 2 + h], 1e-6); // only b has 梦 (stripped from the base)
                assertEquals(w2.get(n)[32000 * 2 + h], g[32000 * 2 + h], 1e-6); // only b has <|im_end|>
            }
        }
        // the source's chat template is kept, written as chat_template.jinja (as recent transformers save it)
        assertEquals(TokenizerConfig.read(LLAMA2).chatTemplate(), Files.readString(out.resolve("chat_template.jinja")));
        assertFalse(Json.readObject(out.resolve("tokenizer_config.json")).has("chat_template"));
        assertTrue(Json.readObject(out.resolve("tokenizer_config.json"))
                .get("added_tokens_decoder")
                .has("32000"));
    }

    @Test
    void strippingDropsTheMergesThatUseOrMakeAStrippedToken() throws Exception {
        // BPE vocab a b c ab abc; vocab_size 3 keeps a b c; "a b" makes ab and "ab c" uses it: both go
        Path d = Files.createDirectories(tmp.resolve("bpe"));
        Files.writeString(
                d.resolve("tokenizer.json"),
                "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, "
                        + "\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, \"post_processor\": null, \"decoder\": null, \"truncation\": null, "
                        + "\"padding\": null, \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": null, "
                        + "\"end_of_word_suffix\": null, \"fuse_unk\": false, \"byte_fallback\": false, "
                        + "\"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"abc\": 4}, \"merges\": [\"a b\", \"ab c\"]}}");
        Json.write(d.resolve("config.json"), Json.MAPPER.createObjectNode().put("vocab_size", 3));
        TokenizerMerge.Vocab v = TokenizerMerge.readVocab(d, true);
        assertEquals(Map.of("a", 0, "b", 1, "c", 2), v.ids());
        assertEquals(0, v.json().get("model").get("merges").size());
        Path out = Files.createDirectories(tmp.resolve("bpe-out"));
        Json.write(out.resolve("tokenizer.json"), v.json());
        try (TextTokenizer t = TextTokenizer.open(out)) {
            assertEquals("[0, 1, 2]", Arrays.toString(t.encode("abc")));
        }
    }
}
