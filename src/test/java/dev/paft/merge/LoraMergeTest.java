package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.cli.Paft;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.Json;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.TensorStore;
import dev.paft.lora.LoraAdapter;
import dev.paft.testutil.TinyModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.IntSupplier;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code paft merge --lora-out}: the merged adapter applied to the base against {@code paft merge} of
 * the same inputs into a model (exact for linear / task_arithmetic, within the reported error for
 * TIES), PEFT's config keys and pattern rules, loading by paft, and the refusals.
 */
class LoraMergeTest {
    @TempDir
    Path tmp;

    Path base;
    Path sft;
    Path dpo;
    Map<String, FloatTensor> wb;

    static final int LAYERS = 3;

    /** q_proj [16, 12], v_proj [10, 12], up_proj [20, 12] per layer, plus embeddings and norms. */
    static Map<String, FloatTensor> weights(long seed) {
        Random r = new Random(seed);
        Map<String, FloatTensor> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", TinyModels.rand(r, 8, 12));
        for (int i = 0; i < LAYERS; i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "self_attn.q_proj.weight", TinyModels.rand(r, 16, 12));
            m.put(p + "self_attn.v_proj.weight", TinyModels.rand(r, 10, 12));
            m.put(p + "mlp.up_proj.weight", TinyModels.rand(r, 20, 12));
            m.put(p + "input_layernorm.weight", TinyModels.rand(r, 12));
        }
        m.put("model.norm.weight", TinyModels.rand(r, 12));
        m.put("lm_head.weight", TinyModels.rand(r, 8, 12));
        return m;
    }

    static Path adapter(
            Path dir, long seed, int r, double alpha, boolean rslora, String baseName, Map<String, long[]> modules) {
        Random rnd = new Random(seed);
        Map<String, PeftAdapter.LoraPair> mods = new LinkedHashMap<>();
        modules.forEach((m, s) ->
                mods.put(m, new PeftAdapter.LoraPair(TinyModels.rand(rnd, r, s[1]), TinyModels.rand(rnd, s[0], r))));
        List<String> targets = modules.keySet().stream()
                .map(k -> k.substring(k.lastIndexOf('.') + 1))
                .distinct()
                .toList();
        new PeftAdapter(new PeftAdapterConfig(r, alpha, 0.05, targets, rslora, baseName), mods)
                .write(dir, DType.F32, null);
        return dir;
    }

    @BeforeEach
    void models() throws Exception {
        wb = weights(1);
        base = TinyModels.writeModel(tmp.resolve("base"), wb, DType.F32);
        Map<String, long[]> a = new LinkedHashMap<>();
        Map<String, long[]> b = new LinkedHashMap<>();
        for (int i = 0; i < LAYERS; i++) {
            a.put("model.layers." + i + ".self_attn.q_proj", new long[] {16, 12});
            a.put("model.layers." + i + ".self_attn.v_proj", new long[] {10, 12});
            b.put("model.layers." + i + ".self_attn.q_proj", new long[] {16, 12});
        }
        b.put("model.layers.1.mlp.up_proj", new long[] {20, 12}); // one layer only
        sft = adapter(tmp.resolve("sft"), 11, 3, 6, false, "tiny-base", a);
        dpo = adapter(tmp.resolve("dpo"), 12, 2, 5, true, "tiny-base", b); // rsLoRA: scaling 5 / sqrt(2)
    }

    static Map<String, float[]> read(Path dir) {
        try (TensorStore s = TensorStore.openModel(dir)) {
            Map<String, float[]> m = new LinkedHashMap<>();
            for (String n : s.names()) {
                m.put(n, s.readFloats(n));
            }
            return m;
        }
    }

    /** The base with the adapter applied as PEFT does: {@code W + (B @ A) * scaling(module)}. */
    static Map<String, float[]> applied(Map<String, FloatTensor> base, Path adapterDir) {
        PeftAdapter ad = PeftAdapter.read(adapterDir);
        Map<String, float[]> out = new LinkedHashMap<>();
        base.forEach((k, v) -> out.put(k, v.data().clone()));
        ad.modules().forEach((m, p) -> {
            float[] d = PeftAdapter.delta(p, ad.config().scaling(m));
            float[] w = out.get(m + ".weight");
            for (int j = 0; j < w.length; j++) {
                w[j] += d[j];
            }
        });
        return out;
    }

    static JsonNode report(Path dir) {
        return Json.readObject(dir.resolve(LoraMerge.REPORT_FILE));
    }

    static double relDiff(float[] x, float[] y, float[] base) {
        double num = 0;
        double den = 0;
        for (int j = 0; j < x.length; j++) {
            num += (double) (x[j] - y[j]) * (x[j] - y[j]);
            den += (double) (y[j] - base[j]) * (y[j] - base[j]);
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    private int merge(String method, Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("merge", "--method", method, "--base", base.toString()));
        args.addAll(List.of(extra));
        return Paft.execute(args.toArray(String[]::new));
    }

    @Test
    void taskArithmeticAdapterIsExactlyTheDenseMerge() {
        Path dense = tmp.resolve("dense");
        Path lora = tmp.resolve("lora");
        String[] in = {"--model", sft + ":weight=0.7", "--model", dpo + ":weight=-0.4", "--param", "lambda=1.3"};
        assertEquals(0, merge("task_arithmetic", dense, concat(in, "--out", dense.toString())));
        assertEquals(0, merge("task_arithmetic", lora, concat(in, "--lora-out", lora.toString())));
        Map<String, float[]> d = read(dense);
        Map<String, float[]> a = applied(wb, lora);
        PeftAdapter ad = PeftAdapter.read(lora);
        for (String k : wb.keySet()) {
            String module = k.substring(0, k.length() - ".weight".length());
            boolean adapted =
                    k.contains("q_proj") || k.contains("v_proj") || k.equals("model.layers.1.mlp.up_proj.weight");
            assertEquals(
                    adapted, ad.modules().containsKey(module), k + ": in the adapter exactly when an input adapts it");
            if (!adapted) {
                assertTrue(Arrays.equals(wb.get(k).data(), d.get(k)), k + ": the dense merge leaves it as the base");
                continue;
            }
            assertTrue(
                    relDiff(a.get(k), d.get(k), wb.get(k).data()) < 2e-6,
                    k + ": " + relDiff(a.get(k), d.get(k), wb.get(k).data()));
        }
        // ranks: the sum of the input ranks (q_proj 3 + 2, v_proj 3, up_proj 2); r = the most common (5 and 3 tie: 5)
        assertEquals(5, ad.config().r());
        assertEquals(5.0, ad.config().loraAlpha());
        assertEquals(5, ad.modules().get("model.layers.0.self_attn.q_proj").a().dim(0));
        assertEquals(3, ad.config().rank("model.layers.2.self_attn.v_proj"));
        assertEquals(2, ad.config().rank("model.layers.1.mlp.up_proj"));
        for (String m : ad.modules().keySet()) {
            assertEquals(1.0, ad.config().scaling(m), m);
            assertEquals(ad.config().rank(m), ad.modules().get(m).a().dim(0), m);
        }
        JsonNode rep = report(lora);
        assertTrue(rep.get("overall_relative_error").asDouble() < 1e-12, rep.toString());
        assertEquals(7, rep.get("tensors").size());
        rep.get("tensors").forEach(t -> assertEquals("factored", t.get("path").asText()));
    }

    @Test
    void linearNormalizedIsExactAndUnnormalizedNeedsWeightsSummingToOne() {
        Path dense = tmp.resolve("dense");
        Path lora = tmp.resolve("lora");
        String[] in = {"--model", sft + ":weight=2", "--model", dpo + ":weight=1"};
        assertEquals(0, merge("linear", dense, concat(in, "--out", dense.toString())));
        assertEquals(0, merge("linear", lora, concat(in, "--lora-out", lora.toString())));
        Map<String, float[]> d = read(dense);
        Map<String, float[]> a = applied(wb, lora);
        PeftAdapter ad = PeftAdapter.read(lora);
        for (String k : wb.keySet()) {
            if (ad.modules().containsKey(k.substring(0, k.length() - ".weight".length()))) {
                assertTrue(relDiff(a.get(k), d.get(k), wb.get(k).data()) < 2e-6, k);
            } else {
                // the dense linear merge computes (2 W + 1 W) / 3: W up to float rounding; the adapter leaves W as it
                // is
                float[] w = wb.get(k).data();
                for (int j = 0; j < w.length; j++) {
                    assertEquals(w[j], d.get(k)[j], 1e-6f * Math.abs(w[j]), k);
                    assertEquals(w[j], a.get(k)[j], k);
                }
            }
        }
        Path ok = tmp.resolve("ok");
        assertEquals(
                0,
                merge(
                        "linear",
                        ok,
                        "--model",
                        sft + ":weight=0.25",
                        "--model",
                        dpo + ":weight=0.75",
                        "--param",
                        "normalize=false",
                        "--lora-out",
                        ok.toString()));
        Path bad = tmp.resolve("bad");
        assertEquals(
                2,
                merge(
                        "linear",
                        bad,
                        "--model",
                        sft + ":weight=1",
                        "--model",
                        dpo + ":weight=1",
                        "--param",
                        "normalize=false",
                        "--lora-out",
                        bad.toString()));
        assertFalse(Files.exists(bad));
    }

    @Test
    void tiesAdapterIsTheDenseMergeWithinTheReportedError() {
        Path dense = tmp.resolve("dense");
        Path lora = tmp.resolve("lora");
        Path full = tmp.resolve("full");
        String[] in = {"--model", sft + ":weight=1,density=0.5", "--model", dpo + ":weight=1,density=0.5"};
        assertEquals(0, merge("ties", dense, concat(in, "--out", dense.toString())));
        assertEquals(0, merge("ties", lora, concat(in, "--lora-out", lora.toString())));
        assertEquals(0, merge("ties", full, concat(in, "--lora-rank", "12", "--lora-out", full.toString())));
        Map<String, float[]> d = read(dense);
        Map<String, float[]> a = applied(wb, lora);
        Map<String, float[]> f = applied(wb, full);
        JsonNode rep = report(lora);
        double worst = 0;
        for (JsonNode t : rep.get("tensors")) {
            String k = t.get("tensor").asText();
            assertEquals("dense", t.get("path").asText());
            double reported = t.get("relative_error").asDouble();
            double got = relDiff(a.get(k), d.get(k), wb.get(k).data());
            assertEquals(reported, got, 1e-5, k + ": the measured error is the reported one");
            // the reported error is the optimal one at that rank (Eckart-Young), from an exact SVD of the dense delta
            float[] delta = new float[d.get(k).length];
            for (int j = 0; j < delta.length; j++) {
                delta[j] = d.get(k)[j] - wb.get(k).data()[j];
            }
            int rows = t.get("shape").get(0).asInt();
            int cols = t.get("shape").get(1).asInt();
            double[] s = TruncatedSvd.jacobi(toDouble(delta), rows, cols).s();
            int r = t.get("rank").asInt();
            assertEquals(t.get("input_rank").asInt(), r, "default rank: the sum of the input ranks");
            double tail = 0;
            double all = 0;
            for (int j = 0; j < s.length; j++) {
                all += s[j] * s[j];
                tail += j >= r ? s[j] * s[j] : 0;
            }
            assertEquals(Math.sqrt(tail / all), reported, 1e-3 * Math.sqrt(tail / all) + 1e-7, k);
            worst = Math.max(worst, reported);
            // at full rank (12 = min(rows, cols)) the adapter is the dense merge
            assertTrue(relDiff(f.get(k), d.get(k), wb.get(k).data()) < 1e-5, k);
        }
        assertTrue(worst > 0.01, "a TIES merge of rank 5 deltas is not rank 5: " + worst);
        assertEquals(worst, rep.get("max_relative_error").asDouble(), 1e-15);
        // non-adapted tensors: untouched by the dense merge, absent from the adapter
        PeftAdapter ad = PeftAdapter.read(lora);
        assertFalse(ad.modules().containsKey("model.layers.0.mlp.up_proj"));
        assertTrue(Arrays.equals(
                wb.get("model.layers.0.mlp.up_proj.weight").data(), d.get("model.layers.0.mlp.up_proj.weight")));
    }

    @Test
    void errorTargetPicksTheSmallestRankPerMatrixWithRankPatternPeftAndPaftResolve() throws Exception {
        Path dense = tmp.resolve("dense");
        Path lora = tmp.resolve("lora");
        String[] in = {"--model", sft + ":weight=1,density=0.6", "--model", dpo + ":weight=0.8,density=0.6"};
        assertEquals(0, merge("ties", dense, concat(in, "--out", dense.toString())));
        assertEquals(0, merge("ties", lora, concat(in, "--lora-error", "0.2", "--lora-out", lora.toString())));
        Map<String, float[]> d = read(dense);
        JsonNode rep = report(lora);
        Set<Integer> ranks = new HashSet<>();
        for (JsonNode t : rep.get("tensors")) {
            String k = t.get("tensor").asText();
            double e = t.get("relative_error").asDouble();
            int r = t.get("rank").asInt();
            ranks.add(r);
            assertTrue(e <= 0.2, k + " " + e);
            float[] delta = new float[d.get(k).length];
            for (int j = 0; j < delta.length; j++) {
                delta[j] = d.get(k)[j] - wb.get(k).data()[j];
            }
            double[] s = TruncatedSvd.jacobi(
                            toDouble(delta),
                            t.get("shape").get(0).asInt(),
                            t.get("shape").get(1).asInt())
                    .s();
            double tailBelow = 0;
            double all = 0;
            for (int j = 0; j < s.length; j++) {
                all += s[j] * s[j];
                tailBelow += j >= r - 1 ? s[j] * s[j] : 0;
            }
            assertTrue(
                    r == 1 || Math.sqrt(tailBelow / all) > 0.2, k + ": rank " + (r - 1) + " would have met the target");
        }
        assertTrue(ranks.size() > 1, "ranks differ per matrix: " + ranks);
        // the config: PEFT's keys, r / alpha = the most common rank, patterns for the others
        JsonNode cfg = Json.readObject(lora.resolve("adapter_config.json"));
        JsonNode plain = new PeftAdapterConfig(8, 16, 0, List.of("q_proj"), false, "x").toJson();
        assertEquals(names(plain), names(cfg), "the keys PEFT's LoraConfig writes");
        assertEquals(cfg.get("r").asInt(), cfg.get("lora_alpha").asInt());
        assertTrue(cfg.get("rank_pattern").size() > 0);
        assertEquals(cfg.get("rank_pattern"), cfg.get("alpha_pattern"));
        PeftAdapter ad = PeftAdapter.read(lora);
        List<String> allModules = new ArrayList<>();
        for (String k : wb.keySet()) {
            if (wb.get(k).shape().length == 2) {
                allModules.add(k.substring(0, k.length() - ".weight".length()));
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = cfg.get("rank_pattern").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            // PEFT's two pattern rules (older: re.match(".*\." + key + "$"); newer: "(.*\.)?(key)$") pick the same,
            // single module
            List<String> older = allModules.stream()
                    .filter(m ->
                            Pattern.compile(".*\\." + e.getKey()).matcher(m).matches())
                    .toList();
            List<String> newer = allModules.stream()
                    .filter(m -> Pattern.compile("(.*\\.)?(" + e.getKey() + ")")
                            .matcher(m)
                            .matches())
                    .toList();
            assertEquals(1, older.size(), e.getKey() + " " + older);
            assertEquals(older, newer);
            assertEquals(
                    e.getValue().asInt(), ad.modules().get(older.get(0)).a().dim(0));
        }
        for (String m : ad.modules().keySet()) {
            assertEquals(ad.config().rank(m), ad.modules().get(m).b().dim(1), m);
        }
        // target_modules: q_proj and v_proj everywhere, up_proj in one layer only -> full names
        List<String> targets = new ArrayList<>();
        cfg.get("target_modules").forEach(x -> targets.add(x.asText()));
        assertEquals(new HashSet<>(ad.modules().keySet()), new HashSet<>(targets));
        // paft loads it as an adapter on the base (per-module ranks, one scaling)
        Map<String, long[]> adaptable = new LinkedHashMap<>();
        wb.forEach((k, v) -> {
            if (v.shape().length == 2 && k.startsWith("model.layers.")) {
                adaptable.put(k.substring(0, k.length() - ".weight".length()), v.shape());
            }
        });
        try (NDManager mgr = NDManager.newBaseManager("PyTorch");
                LoraAdapter la = LoraAdapter.load(lora, adaptable, mgr)) {
            assertEquals(1.0, la.scaling());
            assertEquals(ad.modules().keySet(), la.modules().keySet());
            for (String m : ad.modules().keySet()) {
                try (NDManager scope = mgr.newSubManager()) {
                    float[] got = la.delta(scope, m).toFloatArray();
                    float[] want = PeftAdapter.delta(ad.modules().get(m), 1.0);
                    for (int j = 0; j < want.length; j++) {
                        assertEquals(want[j], got[j], 1e-5f, m);
                    }
                }
            }
        }
    }

    @Test
    void mergekitModelPlusLoraInputsGiveTheSameAdapter() {
        Path lora = tmp.resolve("lora");
        Path plain = tmp.resolve("plain");
        assertEquals(
                0,
                merge(
                        "task_arithmetic",
                        lora,
                        "--model",
                        base + "+" + sft + ":weight=0.5",
                        "--model",
                        base + "+" + dpo + ":weight=0.5",
                        "--lora-out",
                        lora.toString()));
        assertEquals(
                0,
                merge(
                        "task_arithmetic",
                        plain,
                        "--model",
                        sft + ":weight=0.5",
                        "--model",
                        dpo + ":weight=0.5",
                        "--lora-out",
                        plain.toString()));
        Map<String, float[]> x = applied(wb, lora);
        Map<String, float[]> y = applied(wb, plain);
        for (String k : wb.keySet()) {
            assertTrue(relDiff(x.get(k), y.get(k), wb.get(k).data()) < 1e-6, k);
        }
    }

    @Test
    void refusals() throws Exception {
        Path out = tmp.resolve("out");
        Path other = TinyModels.writeModel(tmp.resolve("other"), weights(9), DType.F32);
        // a full model as input
        assertEquals(
                2,
                merge(
                        "task_arithmetic",
                        out,
                        "--model",
                        sft + ":weight=1",
                        "--model",
                        other + ":weight=1",
                        "--lora-out",
                        out.toString()));
        String err = stderrOf(
                () -> merge("task_arithmetic", out, "--model", other + ":weight=1", "--lora-out", out.toString()));
        assertTrue(err.contains(other.toString()) && err.contains("full model"), err);
        // slerp scales the base
        err = stderrOf(() ->
                merge("slerp", out, "--model", sft + ":weight=1", "--param", "t=0.5", "--lora-out", out.toString()));
        assertTrue(err.contains("slerp") && err.contains("--out"), err);
        // adapters on different bases
        Map<String, long[]> q = Map.of("model.layers.0.self_attn.q_proj", new long[] {16, 12});
        Path far = adapter(tmp.resolve("far"), 3, 2, 2, false, "another-base", q);
        err = stderrOf(() -> merge(
                "task_arithmetic",
                out,
                "--model",
                sft + ":weight=1",
                "--model",
                far + ":weight=1",
                "--lora-out",
                out.toString()));
        assertTrue(err.contains("tiny-base") && err.contains("another-base"), err);
        // MODEL+LORA on another model than the base
        err = stderrOf(() -> merge(
                "task_arithmetic", out, "--model", other + "+" + sft + ":weight=1", "--lora-out", out.toString()));
        assertTrue(err.contains("not to the base"), err);
        // a base with an adapter applied
        err = stderrOf(() -> Paft.execute(
                "merge",
                "--method",
                "task_arithmetic",
                "--base",
                base + "+" + dpo,
                "--model",
                sft + ":weight=1",
                "--lora-out",
                out.toString()));
        assertTrue(err.contains("BASE+LORA"), err);
        // flags
        err = stderrOf(() -> merge(
                "task_arithmetic",
                out,
                "--model",
                sft + ":weight=1",
                "--lora-rank",
                "0",
                "--lora-out",
                out.toString()));
        assertTrue(err.contains("--lora-rank must be a positive integer"), err);
        err = stderrOf(() -> merge(
                "task_arithmetic",
                out,
                "--model",
                sft + ":weight=1",
                "--lora-error",
                "1.5",
                "--lora-out",
                out.toString()));
        assertTrue(err.contains("--lora-error must be in [0, 1)"), err);
        err = stderrOf(() -> merge(
                "task_arithmetic", out, "--model", sft + ":weight=1", "--lora-rank", "4", "--out", out.toString()));
        assertTrue(err.contains("apply to --lora-out"), err);
        err = stderrOf(() -> merge(
                "task_arithmetic",
                out,
                "--model",
                sft + ":weight=1",
                "--lora-out",
                out.toString(),
                "--out",
                tmp.resolve("o2").toString()));
        assertTrue(err.contains("not both"), err);
        // layer layouts and tokenizer merges cannot be an adapter on the base
        Path sliced = Files.writeString(
                tmp.resolve("sliced.yml"),
                "merge_method: passthrough\nslices:\n" + "  - sources:\n      - model: " + base
                        + "\n        layer_range: [0, 1]\n");
        err = stderrOf(() -> Paft.execute("merge", sliced.toString(), "--lora-out", out.toString()));
        assertTrue(err.contains("--lora-out: 'slices'"), err);
        Path union = Files.writeString(
                tmp.resolve("union.yml"),
                "merge_method: task_arithmetic\nbase_model: " + base + "\ntokenizer_source: union\nmodels:\n  - model: "
                        + sft + "\n    parameters: {weight: 1.0}\n");
        err = stderrOf(() -> Paft.execute("merge", union.toString(), "--lora-out", out.toString()));
        assertTrue(err.contains("--lora-out: a tokenizer merge"), err);
        assertFalse(Files.exists(out));
        // an existing output is kept without --overwrite; replaced with it
        assertEquals(0, merge("task_arithmetic", out, "--model", sft + ":weight=1", "--lora-out", out.toString()));
        err = stderrOf(() -> merge("task_arithmetic", out, "--model", dpo + ":weight=1", "--lora-out", out.toString()));
        assertTrue(err.contains("--overwrite"), err);
        assertEquals(
                0,
                merge(
                        "task_arithmetic",
                        out,
                        "--model",
                        dpo + ":weight=1",
                        "--lora-out",
                        out.toString(),
                        "--overwrite"));
        assertNull(PeftAdapter.read(out).modules().get("model.layers.0.self_attn.v_proj"));
        assertNotNull(PeftAdapter.read(out).modules().get("model.layers.1.mlp.up_proj"));
    }

    @Test
    void nanInAnAdapterIsExit4AndNothingIsWritten() {
        Map<String, long[]> q = Map.of("model.layers.0.self_attn.q_proj", new long[] {16, 12});
        Path nan = tmp.resolve("nan");
        adapter(nan, 4, 2, 2, false, "tiny-base", q);
        PeftAdapter a = PeftAdapter.read(nan);
        a.modules().get("model.layers.0.self_attn.q_proj").b().data()[7] = Float.NaN;
        a.write(nan, DType.F32, null);
        for (String method : List.of("task_arithmetic", "ties")) {
            Path out = tmp.resolve("out-" + method);
            PrintStream old = System.err;
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            System.setErr(new PrintStream(buf, true));
            try {
                assertEquals(
                        4,
                        merge(
                                method,
                                out,
                                "--model",
                                sft + ":weight=1",
                                "--model",
                                nan + ":weight=1",
                                "--lora-out",
                                out.toString()));
            } finally {
                System.setErr(old);
            }
            assertTrue(buf.toString().contains(nan.toString()) && buf.toString().contains("NaN"), buf.toString());
            assertFalse(Files.exists(out));
        }
    }

    @Test
    void summaryLinesOnTheTerminal() {
        Path out = tmp.resolve("out");
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        try {
            assertEquals(
                    0,
                    merge(
                            "ties",
                            out,
                            "--model",
                            sft + ":weight=1,density=0.5",
                            "--model",
                            dpo + ":weight=1,density=0.5",
                            "--lora-out",
                            out.toString()));
        } finally {
            System.setOut(old);
        }
        String s = buf.toString();
        assertTrue(
                s.contains("PEFT adapter, 7 matrices")
                        && s.contains("truncation error (relative Frobenius): overall")
                        && s.contains("ranks 2 x1, 3 x3, 5 x3")
                        && s.contains(LoraMerge.REPORT_FILE),
                s);
    }

    private static String stderrOf(IntSupplier run) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true));
        try {
            assertEquals(2, run.getAsInt());
        } finally {
            System.setErr(old);
        }
        return buf.toString();
    }

    private static Set<String> names(JsonNode o) {
        Set<String> s = new HashSet<>();
        o.fieldNames().forEachRemaining(s::add);
        return s;
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}
