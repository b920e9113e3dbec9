package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.cli.Paft;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.Json;
import dev.paft.io.PeftAdapter;
import dev.paft.io.TensorStore;
import dev.paft.testutil.TinyModels;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End-to-end: the real {@code paft merge} command on tiny model directories. */
class MergeCliTest {
    @TempDir
    Path tmp;

    Path base;
    Path m1;
    Path m2;
    Map<String, FloatTensor> wb;
    Map<String, FloatTensor> w1;

    @BeforeEach
    void models() throws Exception {
        wb = TinyModels.randomWeights(1);
        w1 = TinyModels.randomWeights(2);
        base = TinyModels.writeModel(tmp.resolve("base"), wb, DType.F32);
        m1 = TinyModels.writeModel(tmp.resolve("m1"), w1, DType.F32);
        m2 = TinyModels.writeModel(tmp.resolve("m2"), TinyModels.randomWeights(3), DType.F32);
    }

    private static Map<String, float[]> read(Path dir) {
        try (TensorStore s = TensorStore.openModel(dir)) {
            Map<String, float[]> m = new LinkedHashMap<>();
            for (String n : s.names()) {
                m.put(n, s.readFloats(n));
            }
            return m;
        }
    }

    private static boolean leftovers(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().contains(".tmp"));
        }
    }

    @Test
    void linearOfOneModelIsThatModel() {
        Path out = tmp.resolve("out");
        assertEquals(
                0, Paft.execute("merge", "--method", "linear", "--model", m1 + ":weight=1", "--out", out.toString()));
        Map<String, float[]> got = read(out);
        w1.forEach((k, v) -> assertArrayEquals(v.data(), got.get(k), k));
        assertTrue(Files.isRegularFile(out.resolve("merge_config.yaml")));
        assertTrue(Files.isRegularFile(out.resolve("tokenizer_config.json")));
    }

    @Test
    void slerpEndpointsAreBaseAndOther() {
        Path o0 = tmp.resolve("s0");
        Path o1 = tmp.resolve("s1");
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--method",
                        "slerp",
                        "--base",
                        base.toString(),
                        "--model",
                        m1.toString(),
                        "--param",
                        "t=0",
                        "--out",
                        o0.toString()));
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--method",
                        "slerp",
                        "--base",
                        base.toString(),
                        "--model",
                        m1.toString(),
                        "--param",
                        "t=1",
                        "--out",
                        o1.toString()));
        Map<String, float[]> a = read(o0);
        Map<String, float[]> b = read(o1);
        wb.forEach((k, v) -> assertArrayEquals(v.data(), a.get(k), k));
        w1.forEach((k, v) -> assertArrayEquals(v.data(), b.get(k), 1e-6f, k));
    }

    @Test
    void oneAdapterLinearWeightOneIsMergeAndUnload() throws Exception {
        Path ad = TinyModels.writeAdapter(tmp.resolve("ad"), 9, 2, 4.0);
        Path out = tmp.resolve("out");
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--method",
                        "linear",
                        "--base",
                        base.toString(),
                        "--model",
                        ad + ":weight=1",
                        "--out",
                        out.toString()));
        PeftAdapter a = PeftAdapter.read(ad);
        Map<String, float[]> got = read(out);
        for (var e : wb.entrySet()) {
            float[] expect = e.getValue().data().clone();
            String module = e.getKey().replace(".weight", "");
            if (a.modules().containsKey(module)) {
                float[] d =
                        PeftAdapter.delta(a.modules().get(module), a.config().scaling()); // scaling = 4 / 2
                for (int j = 0; j < d.length; j++) {
                    expect[j] += d[j];
                }
            }
            assertArrayEquals(expect, got.get(e.getKey()), e.getKey());
        }
        // task arithmetic of the adapter gives the same weights
        Path ta = tmp.resolve("ta");
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--method",
                        "task_arithmetic",
                        "--base",
                        base.toString(),
                        "--model",
                        ad + ":weight=1",
                        "--out",
                        ta.toString()));
        Map<String, float[]> got2 = read(ta);
        got.forEach((k, v) -> assertArrayEquals(v, got2.get(k), k));
    }

    @Test
    void tiesOutputsReloadBitExactWithMetadataAndShards() throws Exception {
        Path out = tmp.resolve("out");
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--method",
                        "ties",
                        "--base",
                        base.toString(),
                        "--model",
                        m1 + ":weight=0.5,density=0.5",
                        "--model",
                        m2 + ":weight=0.5,density=0.5",
                        "--out-dtype",
                        "bf16",
                        "--shard-size",
                        "200B",
                        "--out",
                        out.toString()));
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors.index.json")));
        assertEquals(
                "bfloat16",
                Json.readObject(out.resolve("config.json")).get("torch_dtype").asText());
        try (TensorStore s = TensorStore.openModel(out)) {
            assertEquals("ties", s.metadata().get("merge_method"));
            assertEquals(DType.BF16, s.info("lm_head.weight").dtype());
        }
        // the merge is deterministic: a second run writes identical bytes
        Path out2 = tmp.resolve("out2");
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--method",
                        "ties",
                        "--base",
                        base.toString(),
                        "--model",
                        m1 + ":weight=0.5,density=0.5",
                        "--model",
                        m2 + ":weight=0.5,density=0.5",
                        "--out-dtype",
                        "bf16",
                        "--shard-size",
                        "200B",
                        "--out",
                        out2.toString()));
        Map<String, float[]> a = read(out);
        Map<String, float[]> b = read(out2);
        a.forEach((k, v) -> assertArrayEquals(v, b.get(k), k));
        // merge_config.yaml runs again unchanged (mergekit format)
        Path out3 = tmp.resolve("out3");
        assertEquals(0, Paft.execute("merge", out.resolve("merge_config.yaml").toString(), out3.toString()));
        Map<String, float[]> c = read(out3);
        a.forEach((k, v) -> assertArrayEquals(v, c.get(k), k));
        assertFalse(leftovers(tmp));
    }

    @Test
    void mergekitReadmeTiesExampleRunsUnchanged() throws Exception {
        // mergekit README's TIES example, with local directories for the hub ids
        Path m3 = TinyModels.writeModel(tmp.resolve("m3"), TinyModels.randomWeights(4), DType.F32);
        String yaml = """
                models:
                  - model: %s
                    parameters:
                      density: [1, 0.7, 0.1] # density gradient
                      weight: 1.0
                  - model: %s
                    parameters:
                      density: 0.5
                      weight: [0, 0.3, 0.7, 1] # weight gradient
                  - model: %s
                    parameters:
                      density: 0.33
                      weight:
                        - filter: mlp
                          value: 0.5
                        - value: 0
                merge_method: ties
                base_model: %s
                parameters:
                  normalize: true
                  int8_mask: true
                dtype: float16
                """.formatted(m1, m2, m3, base);
        Path cfg = tmp.resolve("ties.yml");
        Files.writeString(cfg, yaml);
        Path out = tmp.resolve("out");
        assertEquals(0, Paft.execute("merge", cfg.toString(), out.toString()));
        try (TensorStore s = TensorStore.openModel(out)) {
            assertEquals(DType.F16, s.info("model.norm.weight").dtype()); // dtype: float16 -> output f16
        }
        assertEquals(
                "float16",
                Json.readObject(out.resolve("config.json")).get("torch_dtype").asText());
        // the embeddings: t = 0: m1 density 1, m2 weight 0, m3 weight 0 (no mlp) -> only m1 contributes, normalized by
        // 1
        float[] emb = read(out).get("model.embed_tokens.weight");
        float[] expect = new float[emb.length];
        for (int j = 0; j < emb.length; j++) {
            float d = w1.get("model.embed_tokens.weight").data()[j]
                    - wb.get("model.embed_tokens.weight").data()[j];
            expect[j] = DType.halfToFloat(
                    DType.floatToHalf(wb.get("model.embed_tokens.weight").data()[j] + d));
        }
        assertArrayEquals(expect, emb);
    }

    @Test
    void mergekitSlerpExampleWithFilteredGradients() throws Exception {
        String yaml = """
                slices: null
                models:
                  - model: %s
                  - model: %s
                merge_method: slerp
                base_model: %s
                parameters:
                  t:
                    - filter: self_attn
                      value: [0, 0.5, 0.3, 0.7, 1]
                    - filter: mlp
                      value: [1, 0.5, 0.7, 0.3, 0]
                    - value: 0.5
                dtype: bfloat16
                """.formatted(base, m1, base);
        Path cfg = tmp.resolve("slerp.yml");
        Files.writeString(cfg, yaml);
        Path out = tmp.resolve("out");
        assertEquals(0, Paft.execute("merge", "--config", cfg.toString(), "--out", out.toString()));
        Map<String, float[]> got = read(out);
        // layer 0 self_attn: t = 0 -> base; layer 0 mlp: t = 1 -> m1 (bf16-rounded)
        float[] q0 = wb.get("model.layers.0.self_attn.q_proj.weight").data();
        float[] up0 = w1.get("model.layers.0.mlp.up_proj.weight").data();
        for (int j = 0; j < q0.length; j++) {
            assertEquals(
                    DType.bf16ToFloat(DType.floatToBf16(q0[j])), got.get("model.layers.0.self_attn.q_proj.weight")[j]);
        }
        for (int j = 0; j < up0.length; j++) {
            assertEquals(
                    DType.bf16ToFloat(DType.floatToBf16(up0[j])),
                    got.get("model.layers.0.mlp.up_proj.weight")[j],
                    1e-2f);
        }
    }

    @Test
    void paftYamlConfigAndDareDeterminism() throws Exception {
        String yaml = """
                merge:
                  method: dare_ties
                  base: base
                  models:
                    - model: m1
                      parameters: {weight: 0.5, density: 0.5}
                    - model: m2
                      parameters: {weight: 0.5, density: 0.5}
                  parameters: {seed: 7}
                """;
        Path cfg = tmp.resolve("merge.yaml");
        Files.writeString(cfg, yaml);
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--config",
                        cfg.toString(),
                        "--out",
                        tmp.resolve("a").toString()));
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--config",
                        cfg.toString(),
                        "--out",
                        tmp.resolve("b").toString()));
        assertEquals(
                0,
                Paft.execute(
                        "merge",
                        "--config",
                        cfg.toString(),
                        "--seed",
                        "8",
                        "--out",
                        tmp.resolve("c").toString()));
        Map<String, float[]> a = read(tmp.resolve("a"));
        Map<String, float[]> b = read(tmp.resolve("b"));
        Map<String, float[]> c = read(tmp.resolve("c"));
        a.forEach((k, v) -> assertArrayEquals(v, b.get(k), k));
        assertFalse(Arrays.equals(a.get("lm_head.weight"), c.get("lm_head.weight")));
    }

    @Test
    void deviceAutoMergesOnTheCpu() {
        String out = tmp.resolve("auto").toString();
        assertEquals(
                0,
                Paft.execute(
                        "merge", "--method", "linear", "--model", m1 + ":weight=1", "--out", out, "--device", "auto"));
        assertTrue(Files.exists(Path.of(out, "config.json")), "the merged model is written");
    }

    @Test
    void validationErrorsExitBeforeWriting() throws Exception {
        String out = tmp.resolve("out").toString();
        String b = base.toString();
        // usage (2)
        assertEquals(
                2,
                Paft.execute("merge", "--method", "model_soup", "--base", b, "--model", m1.toString(), "--out", out));
        assertEquals(
                2,
                Paft.execute(
                        "merge",
                        "--method",
                        "ties",
                        "--base",
                        b,
                        "--model",
                        m1 + ":weight=1,density=1.5",
                        "--out",
                        out));
        assertEquals(
                2, Paft.execute("merge", "--method", "ties", "--base", b, "--model", m1 + ":weight=nan", "--out", out));
        assertEquals(
                2,
                Paft.execute(
                        "merge", "--method", "ties", "--base", b, "--model", m1.toString(), "--out", out)); // no weight
        assertEquals(
                2,
                Paft.execute(
                        "merge",
                        "--method",
                        "slerp",
                        "--base",
                        b,
                        "--model",
                        m1.toString(),
                        "--model",
                        m2.toString(),
                        "--param",
                        "t=0.5",
                        "--out",
                        out));
        assertEquals(
                2,
                Paft.execute(
                        "merge", "--method", "linear", "--model", m1 + ":weight=1", "--out", out, "--device", "cuda"));

        Files.writeString(
                tmp.resolve("slices.yml"),
                "slices:\n  - sources:\n      - model: " + m1
                        + "\n        layer_range: [2, 1]\nmerge_method: linear\n");
        assertEquals(2, Paft.execute("merge", tmp.resolve("slices.yml").toString(), out)); // an empty layer range
        Files.writeString(
                tmp.resolve("union.yml"),
                "models:\n  - model: " + m1
                        + "\n    parameters: {weight: 1}\nmerge_method: linear\ntokenizer_source: union\n");
        assertEquals(
                3,
                Paft.execute(
                        "merge", tmp.resolve("union.yml").toString(), out)); // the tiny models have no tokenizer.json
        Files.writeString(
                tmp.resolve("grad.yml"),
                "models:\n  - model: " + m1 + "\n    parameters: {weight: []}\nmerge_method: linear\n");
        assertEquals(2, Paft.execute("merge", tmp.resolve("grad.yml").toString(), out));
        // bad input (3): missing input, shape mismatch, adapter on a module the base lacks
        assertEquals(
                3,
                Paft.execute(
                        "merge",
                        "--method",
                        "ties",
                        "--base",
                        b,
                        "--model",
                        tmp.resolve("nope") + ":weight=1",
                        "--out",
                        out));
        Map<String, FloatTensor> odd = TinyModels.randomWeights(5);
        odd.put("model.norm.weight", TinyModels.rand(new Random(1), 5));
        Path oddDir = TinyModels.writeModel(tmp.resolve("odd"), odd, DType.F32);
        assertEquals(
                3,
                Paft.execute("merge", "--method", "ties", "--base", b, "--model", oddDir + ":weight=1", "--out", out));
        Map<String, FloatTensor> small = new LinkedHashMap<>(wb);
        small.remove("model.layers.0.self_attn.q_proj.weight");
        Path smallBase = TinyModels.writeModel(tmp.resolve("small"), small, DType.F32);
        Path ad = TinyModels.writeAdapter(tmp.resolve("ad"), 1, 2, 2);
        assertEquals(
                3,
                Paft.execute(
                        "merge",
                        "--method",
                        "task_arithmetic",
                        "--base",
                        smallBase.toString(),
                        "--model",
                        ad + ":weight=1",
                        "--out",
                        out));
        assertFalse(Files.exists(tmp.resolve("out")));
        assertFalse(leftovers(tmp));
        // existing output needs --overwrite
        Files.createDirectories(tmp.resolve("out"));
        Files.writeString(tmp.resolve("out/keep.txt"), "x");
        assertEquals(2, Paft.execute("merge", "--method", "linear", "--model", m1 + ":weight=1", "--out", out));
        assertTrue(Files.exists(tmp.resolve("out/keep.txt")));
        // --overwrite never deletes a file paft did not write (docs/GUARANTEES.md)
        assertEquals(
                2,
                Paft.execute("merge", "--method", "linear", "--model", m1 + ":weight=1", "--out", out, "--overwrite"));
        assertTrue(Files.exists(tmp.resolve("out/keep.txt")));
        Files.delete(tmp.resolve("out/keep.txt"));
        assertEquals(
                0,
                Paft.execute("merge", "--method", "linear", "--model", m1 + ":weight=1", "--out", out, "--overwrite"));
    }

    @Test
    void nonFiniteMergeExitsFourAndLeavesNothing() throws Exception {
        Map<String, FloatTensor> big = TinyModels.randomWeights(6);
        big.get("lm_head.weight").data()[3] = 3e38f;
        Path bigDir = TinyModels.writeModel(tmp.resolve("big"), big, DType.F32);
        Path out = tmp.resolve("out");
        // 3e38 * 10 overflows float32
        assertEquals(
                4,
                Paft.execute(
                        "merge",
                        "--method",
                        "linear",
                        "--model",
                        bigDir + ":weight=10",
                        "--param",
                        "normalize=false",
                        "--out",
                        out.toString()));
        assertFalse(Files.exists(out));
        assertFalse(leftovers(tmp));
    }

    @Test
    void fullDiskIsNamedAsSuch() {
        // the mapping the full-disk attack case (MergeAttackTest, needs root for its tmpfs) goes through
        var e = MergeOutput.failure(
                tmp.resolve("out"),
                new UncheckedIOException(
                        "cannot write x",
                        new FileSystemException(
                                tmp.resolve(".out.tmp/model.safetensors.tmp").toString(),
                                null,
                                "No space left on device")),
                1000);
        assertEquals(3, e.exitCode());
        assertTrue(e.getMessage().startsWith("no space left on the file system of " + tmp), e.getMessage());
        var other = MergeOutput.failure(tmp.resolve("out"), new AccessDeniedException("x"), 1000);
        assertEquals(3, other.exitCode());
        assertTrue(other.getMessage().startsWith("cannot write the merged model to "), other.getMessage());
    }
}
