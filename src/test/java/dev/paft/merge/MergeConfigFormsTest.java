package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.cli.Paft;
import dev.paft.data.TextTokenizer;
import dev.paft.data.TokenizerConfig;
import dev.paft.io.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * mergekit's config forms (issue 16, item 3): {@code slices} (frankenmerges, gradients over each
 * slice's layers, source / slice / global precedence, the base read from each slice's sources),
 * {@code modules}, and the tokenizer ({@code tokenizer_source: union | MODEL}, the {@code tokenizer}
 * block with per-token sources, force, zero, model_token and padding; {@code chat_template}). Each
 * YAML under src/test/resources/merge/config/configs runs through {@code paft merge}; the tensors
 * must be what scripts/golden/make_merge_config_golden.py computes independently, and the output
 * config.json / tokenizer what it says.
 */
class MergeConfigFormsTest {
    static final Path ROOT = Path.of("src/test/resources/merge/config");

    @TempDir
    Path tmp;

    private List<String> merge(String name, Path out) {
        List<String> log = new ArrayList<>();
        MergeRunner.run(
                MergeSpec.fromMergekit(ROOT.resolve("configs").resolve(name + ".yml")),
                new MergeRunner.Options(out, false, null, 0, log::add));
        return log;
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "frankenmerge",
                "slice_linear_gradient",
                "slice_task_arithmetic",
                "modules_models",
                "tokenizer_union",
                "tokenizer_tokens",
                "tokenizer_model_source",
                "tokenizer_base",
                "slices_tokenizer"
            })
    void givesTheIndependentlyComputedModel(String name) throws Exception {
        Path out = tmp.resolve(name);
        merge(name, out);
        Path exp = ROOT.resolve("expected").resolve(name);
        Map<String, float[]> want = MergeFidelityTest.read(exp);
        Map<String, float[]> got = MergeFidelityTest.read(out);
        double worst = MergeFidelityTest.maxRelDiff(want, got);
        System.out.printf("config form %s: max relative difference %.2e%n", name, worst);
        JsonNode e = Json.readObject(exp.resolve("expected.json"));
        JsonNode cfg = Json.readObject(out.resolve("config.json"));
        assertEquals(
                e.get("num_hidden_layers").asInt(), cfg.get("num_hidden_layers").asInt(), "num_hidden_layers");
        if (e.has("vocab")) {
            assertEquals(e.get("vocab_size").asInt(), cfg.get("vocab_size").asInt(), "vocab_size");
            TokenizerMerge.Vocab v = TokenizerMerge.readVocab(out, false);
            e.get("vocab")
                    .fields()
                    .forEachRemaining(
                            t -> assertEquals(t.getValue().asInt(), v.ids().get(t.getKey()), t.getKey()));
            assertEquals(e.get("vocab").size(), v.ids().size(), "vocabulary size");
            // the written tokenizer loads with paft's tokenizer (DJL's HuggingFaceTokenizer) and maps the tokens to
            // those ids
            try (TextTokenizer tok = TextTokenizer.open(out)) {
                e.get("vocab")
                        .fields()
                        .forEachRemaining(t -> assertEquals(t.getValue().asInt(), tok.tokenId(t.getKey()), t.getKey()));
            }
        }
    }

    @Test
    void frankenmergeTakesEachLayerFromItsSliceAndRenumbers() {
        Path out = tmp.resolve("f");
        merge("frankenmerge", out);
        Map<String, float[]> got = MergeFidelityTest.read(out);
        Map<String, float[]> b = MergeFidelityTest.read(ROOT.resolve("models/b"));
        Map<String, float[]> c = MergeFidelityTest.read(ROOT.resolve("models/c"));
        // slices: c layers [0, 2), then b layers [1, 3): 4 layers; embeddings from c (first slice), norm and lm_head
        // from b (last)
        String q = ".self_attn.q_proj.weight";
        assertTrue(Arrays.equals(c.get("model.layers.0" + q), got.get("model.layers.0" + q)));
        assertTrue(Arrays.equals(c.get("model.layers.1" + q), got.get("model.layers.1" + q)));
        assertTrue(Arrays.equals(b.get("model.layers.1" + q), got.get("model.layers.2" + q)));
        assertTrue(Arrays.equals(b.get("model.layers.2" + q), got.get("model.layers.3" + q)));
        assertTrue(Arrays.equals(c.get("model.embed_tokens.weight"), got.get("model.embed_tokens.weight")));
        assertTrue(Arrays.equals(b.get("lm_head.weight"), got.get("lm_head.weight")));
        assertTrue(Arrays.equals(b.get("model.norm.weight"), got.get("model.norm.weight")));
        assertEquals(4 * 3 + 3, got.size());
        assertEquals(
                4,
                Json.readObject(out.resolve("config.json"))
                        .get("num_hidden_layers")
                        .asInt());
    }

    @Test
    void sliceGradientRunsOverTheSlicesOwnLayers() {
        // hand-computed: slice 0 is 3 layers, a's weight [1, 0.25] at t = 0, 0.5, 1 -> 1, 0.625, 0.25; b's 0.5 (the
        // slice's);
        // normalize: (w_a a + 0.5 b) / (w_a + 0.5)
        Path out = tmp.resolve("g");
        merge("slice_linear_gradient", out);
        Map<String, float[]> got = MergeFidelityTest.read(out);
        Map<String, float[]> a = MergeFidelityTest.read(ROOT.resolve("models/a"));
        Map<String, float[]> b = MergeFidelityTest.read(ROOT.resolve("models/b"));
        double[] wa = {1, 0.625, 0.25};
        for (int l = 0; l < 3; l++) {
            String n = "model.layers." + l + ".input_layernorm.weight";
            for (int j = 0; j < 4; j++) {
                double want = (wa[l] * a.get(n)[j] + 0.5 * b.get(n)[j]) / (wa[l] + 0.5);
                assertEquals(want, got.get(n)[j], 1e-6, n + "[" + j + "]");
            }
        }
        // slice 1 is one layer (t = 1): c (global weight 1) and a's layer 2; a's weight: 3 on mlp (filter), else [0, 2]
        // at t = 1 = 2
        Map<String, float[]> c = MergeFidelityTest.read(ROOT.resolve("models/c"));
        String up = "model.layers.3.mlp.up_proj.weight";
        String norm = "model.layers.3.input_layernorm.weight";
        for (int j = 0; j < 4; j++) {
            assertEquals(
                    (c.get("model.layers.1.mlp.up_proj.weight")[j] + 3 * a.get("model.layers.2.mlp.up_proj.weight")[j])
                            / 4.0,
                    got.get(up)[j],
                    1e-6);
            assertEquals(
                    (c.get("model.layers.1.input_layernorm.weight")[j]
                                    + 2 * a.get("model.layers.2.input_layernorm.weight")[j])
                            / 3.0,
                    got.get(norm)[j],
                    1e-6);
        }
    }

    @Test
    void unionTokenizerRowsByValue() throws Exception {
        // a: <unk> <s> </s> x y z; d: <unk> <s> </s> x w y q + added <|im_end|>. Union: a's 6, then w = 6, q = 7,
        // <|im_end|> = 8.
        // linear (1 a + 3 d) / 4 of the permuted rows; no base_model: a token only one model has takes that model's row
        // in both
        Path out = tmp.resolve("u");
        List<String> log = merge("tokenizer_union", out);
        Map<String, float[]> got = MergeFidelityTest.read(out);
        Map<String, float[]> a = MergeFidelityTest.read(ROOT.resolve("models/a"));
        Map<String, float[]> d = MergeFidelityTest.read(ROOT.resolve("models/d"));
        String emb = "model.embed_tokens.weight";
        int h = 4;
        float[] g = got.get(emb);
        assertEquals(9 * h, g.length);
        for (int j = 0; j < h; j++) {
            // x: a row 3, d row 3
            assertEquals((a.get(emb)[3 * h + j] + 3 * d.get(emb)[3 * h + j]) / 4f, g[3 * h + j], 1e-6);
            // y: a row 4, d row 5
            assertEquals((a.get(emb)[4 * h + j] + 3 * d.get(emb)[5 * h + j]) / 4f, g[4 * h + j], 1e-6);
            // z: only a (row 5) -> d takes a's row: (a + 3 a) / 4 = a
            assertEquals(a.get(emb)[5 * h + j], g[5 * h + j], 1e-6);
            // w: only d (row 4); q: only d (row 6); <|im_end|>: only d (row 7)
            assertEquals(d.get(emb)[4 * h + j], g[6 * h + j], 1e-6);
            assertEquals(d.get(emb)[6 * h + j], g[7 * h + j], 1e-6);
            assertEquals(d.get(emb)[7 * h + j], g[8 * h + j], 1e-6);
        }
        assertEquals(
                "</s>",
                Json.readObject(out.resolve("special_tokens_map.json"))
                        .get("eos_token")
                        .asText());
        String template = Files.readString(out.resolve("chat_template.jinja"));
        assertTrue(template.contains("<|im_start|>"), template);
        assertFalse(Json.readObject(out.resolve("tokenizer_config.json")).has("chat_template"));
        // the added tokens: d's <|im_end|> keeps its settings (special), the plain tokens of d are added as normal
        // tokens
        JsonNode dec = Json.readObject(out.resolve("tokenizer_config.json")).get("added_tokens_decoder");
        assertEquals("<|im_end|>", dec.get("8").get("content").asText());
        assertTrue(dec.get("8").get("special").asBoolean());
        assertEquals("w", dec.get("6").get("content").asText());
        assertFalse(dec.get("6").get("special").asBoolean());
        assertTrue(dec.get("6").get("normalized").asBoolean());
        assertTrue(log.stream().noneMatch(l -> l.contains("warning")), String.join("\n", log));
    }

    @Test
    void chatTemplatesByNameAutoAndText() throws Exception {
        String m = ROOT.resolve("models").toAbsolutePath().toString();
        String[][] cases = {
            {"auto", "{{ messages }}"},
            {
                "llama3",
                new String(
                        getClass()
                                .getResourceAsStream("chat_templates/llama3.jinja")
                                .readAllBytes(),
                        StandardCharsets.UTF_8)
            },
            {
                "'{% for x in messages %}{{ x.content }}{% endfor %}'",
                "{% for x in messages %}{{ x.content }}{% endfor %}"
            }
        };
        int i = 0;
        for (String[] c : cases) {
            Path cfg = tmp.resolve("ct" + i + ".yml");
            Files.writeString(
                    cfg,
                    "models:\n  - model: " + m
                            + "/a\n    parameters: {weight: 1}\nmerge_method: linear\nchat_template: " + c[0] + "\n");
            Path out = tmp.resolve("cto" + i++);
            MergeRunner.run(MergeSpec.fromMergekit(cfg), new MergeRunner.Options(out, false));
            assertEquals(c[1], Files.readString(out.resolve("chat_template.jinja")), c[0]);
            assertFalse(Json.readObject(out.resolve("tokenizer_config.json")).has("chat_template"), c[0]);
            // paft's own reader (transformers' precedence: the .jinja file) sees the new template
            assertEquals(c[1], TokenizerConfig.read(out).chatTemplate(), c[0]);
        }
    }

    @Test
    void mergeConfigYamlRunsAgain() throws Exception {
        for (String name : List.of("slice_task_arithmetic", "tokenizer_tokens", "modules_models")) {
            Path out = tmp.resolve(name + "1");
            merge(name, out);
            Path again = tmp.resolve(name + "2");
            assertEquals(
                    0, Paft.execute("merge", out.resolve("merge_config.yaml").toString(), again.toString()));
            assertEquals(
                    Files.readString(out.resolve("merge_config.yaml")),
                    Files.readString(again.resolve("merge_config.yaml")));
            Map<String, float[]> x = MergeFidelityTest.read(out);
            Map<String, float[]> y = MergeFidelityTest.read(again);
            assertEquals(x.keySet(), y.keySet());
            x.forEach((k, v) -> assertTrue(Arrays.equals(v, y.get(k)), name + ": " + k));
        }
    }

    @Test
    void badSliceConfigsExit2WithOneLine() throws Exception {
        String m = ROOT.resolve("models").toAbsolutePath().toString();
        String[][] cases = {
            {
                "slices:\n  - sources:\n      - model: " + m
                        + "/a\n        layer_range: [0, 5]\nmerge_method: linear\nparameters: {weight: 1}\n",
                "past the 3 layers"
            },
            {
                "slices:\n  - sources:\n      - model: " + m + "/a\n        layer_range: [0, 2]\n      - model: " + m
                        + "/b\n        layer_range: [0, 3]\n" + "merge_method: linear\nparameters: {weight: 1}\n",
                "same number of layers"
            },
            {
                "slices:\n  - sources:\n      - model: " + m + "/a\n        layer_range: [0, 2]\n      - model: " + m
                        + "/b\n        layer_range: [0, 2]\n" + "merge_method: task_arithmetic\nbase_model: " + m
                        + "/base\nparameters: {weight: 1}\n",
                "not among the slice's sources"
            },
            {
                "models:\n  - model: " + m + "/a\nslices:\n  - sources:\n      - model: " + m
                        + "/a\n        layer_range: [0, 2]\nmerge_method: linear\n",
                "exactly one of"
            },
            {
                "modules:\n  text_decoder:\n    models:\n      - model: " + m + "/a\nmerge_method: linear\n",
                "unknown module"
            },
            {
                "models:\n  - model: " + m
                        + "/a\n    parameters: {weight: 1}\nmerge_method: linear\nchat_template: nope\n",
                "chat_template 'nope'"
            },
            {
                "models:\n  - model: " + m
                        + "/a\n    parameters: {weight: 1}\nmerge_method: linear\ntokenizer_source: union\ntokenizer: {source: base}\n",
                "not both"
            },
            {
                "models:\n  - model: " + m
                        + "/a\n    parameters: {weight: 1}\nmerge_method: linear\ntokenizer:\n  tokens:\n    x: {source: "
                        + m + "/d}\n",
                "is not part of the merge"
            },
            {
                "models:\n  - model: " + m
                        + "/a\n    parameters: {weight: 1}\nmerge_method: linear\ntokenizer:\n  pad_to_multiple_of: 0\n",
                "pad_to_multiple_of"
            },
            {
                "models:\n  - model: " + m + "/a\n    parameters: {weight: 1}\n  - model: " + m
                        + "/d\n    parameters: {weight: 1}\n"
                        + "merge_method: linear\ntokenizer:\n  tokens:\n    z: {source: " + m + "/d}\n",
                "has no token 'z'"
            },
            {
                "models:\n  - model: " + m + "/a\n    parameters: {weight: 1}\n  - model: " + m
                        + "/d\n    parameters: {weight: 1}\n"
                        + "merge_method: linear\ntokenizer:\n  tokens:\n    n: {source: {kind: model_token, model: " + m
                        + "/a, token: nope}}\n",
                "token 'nope' is not in model"
            },
        };
        int i = 0;
        for (String[] c : cases) {
            Path cfg = tmp.resolve("bad" + i++ + ".yml");
            Files.writeString(cfg, c[0]);
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            PrintStream old = System.err;
            System.setErr(new PrintStream(err, true));
            int rc;
            try {
                rc = Paft.execute("merge", cfg.toString(), tmp.resolve("o" + i).toString());
            } finally {
                System.setErr(old);
            }
            assertEquals(2, rc, c[0] + "\n" + err);
            assertTrue(err.toString().contains(c[1]), err.toString());
            assertFalse(Files.exists(tmp.resolve("o" + i)));
        }
    }
}
