package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import dev.paft.io.TensorStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * mergekit's numbers (issue 15, merge items 1-6): each YAML under
 * src/test/resources/merge/fidelity/configs runs through {@code paft merge} and must give what
 * mergekit computes for it in float32, as computed independently by
 * scripts/golden/make_merge_fidelity_golden.py (written from mergekit's sources; its sparsification
 * checked bit for bit against mergekit's own sparsify.py).
 */
class MergeFidelityTest {
    static final Path ROOT = Path.of("src/test/resources/merge/fidelity");

    @TempDir
    Path tmp;

    static Map<String, float[]> read(Path dir) {
        try (TensorStore s = TensorStore.openModel(dir)) {
            Map<String, float[]> m = new LinkedHashMap<>();
            for (String n : s.names()) {
                m.put(n, s.readFloats(n));
            }
            return m;
        }
    }

    private List<String> merge(String yaml, Path out) {
        List<String> log = new ArrayList<>();
        MergeRunner.run(
                MergeSpec.fromMergekit(ROOT.resolve("configs").resolve(yaml)),
                new MergeRunner.Options(out, false, null, 0, log::add));
        return log;
    }

    /**
     * Float32 agreement: the float operations are mergekit's, in its order, except sums torch
     * reduces in its own order, the L1 rescale factor (a double quotient here, float32 in torch)
     * and slerp's angle (double here, float32 numpy there): a few ulps.
     */
    static double maxRelDiff(Map<String, float[]> want, Map<String, float[]> got) {
        assertEquals(want.keySet(), got.keySet());
        double worst = 0;
        for (var e : want.entrySet()) {
            float[] w = e.getValue();
            float[] g = got.get(e.getKey());
            assertEquals(w.length, g.length, e.getKey());
            for (int j = 0; j < w.length; j++) {
                double d = Math.abs((double) w[j] - g[j]) / Math.max(1.0, Math.abs(w[j]));
                assertTrue(d <= 1e-6, e.getKey() + "[" + j + "]: mergekit " + w[j] + ", paft " + g[j]);
                worst = Math.max(worst, d);
            }
        }
        return worst;
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "ties_example",
                "slerp_gradient",
                "filter_fallthrough",
                "task_arithmetic_density",
                "lora_task_arithmetic",
                "linear_unlisted_base",
                "ties_lora_base",
                "breadcrumbs_rescale",
                "breadcrumbs_ties_rescale",
                "ties_rescale"
            })
    void givesMergekitsNumbersInFloat32(String name) {
        Path out = tmp.resolve(name);
        merge(name + ".yml", out);
        double worst = maxRelDiff(read(ROOT.resolve("expected").resolve(name)), read(out));
        System.out.printf("fidelity %s: max relative difference to mergekit %.2e%n", name, worst);
    }

    @Test
    void normAndLmHeadTakeGradientsAtTZero() {
        // examples/ties.yml by hand: at t = 0 m1 has density 1 and weight 1, m2's weight gradient
        // [0, 0.3, 0.7, 1] gives 0, m3's weight is 0 outside mlp. TIES: the elected sign is m1's, only
        // m1 agrees (a zero never does), divisor 1: base + (m1 - base). At t = 1 (paft's former rule)
        // m2 would weigh 1.
        Path out = tmp.resolve("te");
        merge("ties_example.yml", out);
        Map<String, float[]> got = read(out);
        Map<String, float[]> base = read(ROOT.resolve("models/base"));
        Map<String, float[]> m1 = read(ROOT.resolve("models/m1"));
        for (String n : List.of("lm_head.weight", "model.norm.weight", "model.embed_tokens.weight")) {
            float[] b = base.get(n);
            float[] a = m1.get(n);
            float[] want = new float[b.length];
            for (int j = 0; j < b.length; j++) {
                want[j] = b[j] + (a[j] - b[j]);
            }
            Assertions.assertArrayEquals(want, got.get(n), n);
        }
    }

    @Test
    void slerpTakesTFromTheMatchAllFilter() {
        // t: [{filter: "*", value: 0.3}] is t = 0.3 for every tensor (paft took "*" literally: exit 2)
        Path models = ROOT.resolve("models").toAbsolutePath();
        List<MergeSpec.Input> in =
                List.of(new MergeSpec.Input(models.resolve("m1").toString(), Map.of()));
        Path a = tmp.resolve("star");
        Path b = tmp.resolve("scalar");
        MergeRunner.run(
                MergeSpec.builder("slerp", models.resolve("base").toString())
                        .inputs(in)
                        .parameters(Map.of("t", List.of(Map.of("filter", "*", "value", 0.3))))
                        .dtype("float32")
                        .build(),
                new MergeRunner.Options(a, false));
        MergeRunner.run(
                MergeSpec.builder("slerp", models.resolve("base").toString())
                        .inputs(in)
                        .parameters(Map.of("t", 0.3))
                        .dtype("float32")
                        .build(),
                new MergeRunner.Options(b, false));
        Map<String, float[]> x = read(a);
        Map<String, float[]> y = read(b);
        x.forEach((k, v) -> Assertions.assertArrayEquals(y.get(k), v, k));
        assertFalse(Arrays.equals(
                x.get("lm_head.weight"), read(models.resolve("base")).get("lm_head.weight")));
    }

    @Test
    void modelPlusLoraNamesWhatIsWrong() {
        Path models = ROOT.resolve("models").toAbsolutePath();
        var e = Assertions.assertThrows(
                PaftException.class,
                () -> MergeRunner.run(
                        MergeSpec.builder(
                                        "task_arithmetic",
                                        models.resolve("base").toString())
                                .input(models.resolve("m1") + "+" + models.resolve("m2"), Map.of("weight", 1.0))
                                .build(),
                        new MergeRunner.Options(tmp.resolve("x"), false)));
        assertEquals(3, e.exitCode());
        assertTrue(
                e.getMessage().contains("not a PEFT adapter directory")
                        && e.getMessage().contains("after '+'"),
                e.getMessage());
        var e2 = Assertions.assertThrows(
                PaftException.class,
                () -> MergeRunner.run(
                        MergeSpec.builder(
                                        "task_arithmetic",
                                        models.resolve("base").toString())
                                .input(models.resolve("nope") + "+" + models.resolve("lora"), Map.of("weight", 1.0))
                                .build(),
                        new MergeRunner.Options(tmp.resolve("x"), false)));
        assertEquals(3, e2.exitCode());
        assertTrue(e2.getMessage().contains("model of '") && e2.getMessage().contains("not found"), e2.getMessage());
    }

    @Test
    void noEffectParametersAreNamedInOneWarning() {
        List<String> log = merge("task_arithmetic_density.yml", tmp.resolve("ta"));
        String warning =
                log.stream().filter(l -> l.startsWith("warning:")).findFirst().orElse(null);
        assertNotNull(warning, String.valueOf(log));
        for (String p :
                List.of("parameters.rescale", "parameters.epsilon", "../models/m1: density", "../models/m2: density")) {
            assertTrue(warning.contains(p), p + " missing from: " + warning);
        }
        assertFalse(warning.contains("lambda") || warning.contains("weight"), warning);
        List<String> log2 = merge("filter_fallthrough.yml", tmp.resolve("ff"));
        String w2 =
                log2.stream().filter(l -> l.startsWith("warning:")).findFirst().orElseThrow();
        assertTrue(w2.contains("parameters.epsilon") && !w2.contains("density") && !w2.contains("weight"), w2);
        // a parameter the method knows is no warning
        List<String> log3 = merge("ties_example.yml", tmp.resolve("te"));
        assertTrue(log3.stream().noneMatch(l -> l.startsWith("warning:")), String.valueOf(log3));
    }

    @Test
    void mergeConfigYamlIsMergekitsAndRunsAgain() throws Exception {
        Path out = tmp.resolve("o");
        merge("filter_fallthrough.yml", out);
        String y = Files.readString(out.resolve("merge_config.yaml"));
        assertTrue(y.contains("dtype: float32"), y);
        Path again = tmp.resolve("again");
        MergeRunner.run(
                MergeSpec.fromMergekit(out.resolve("merge_config.yaml")), new MergeRunner.Options(again, false));
        Map<String, float[]> a = read(out);
        Map<String, float[]> b = read(again);
        a.forEach((k, v) -> Assertions.assertArrayEquals(v, b.get(k), k));
        // mergekit's dtype_from_name also takes a torch. prefix
        Path cfg = tmp.resolve("torch-dtype.yml");
        Files.writeString(
                cfg,
                Files.readString(ROOT.resolve("configs/ties_rescale.yml"))
                        .replace("dtype: float32", "dtype: torch.float32")
                        .replace("../models/", ROOT.resolve("models").toAbsolutePath() + "/"));
        Path t = tmp.resolve("t");
        MergeRunner.run(MergeSpec.fromMergekit(cfg), new MergeRunner.Options(t, false));
        assertEquals(0.0, maxRelDiff(read(ROOT.resolve("expected/ties_rescale")), read(t)), 1e-6);
    }

    /** A parameter setting mergekit's pydantic schema accepts: a number, a bool, a list of numbers, or {filter, value} entries. */
    @SuppressWarnings("unchecked")
    private static boolean mergekitSetting(Object v) {
        if (v instanceof Number || v instanceof Boolean) {
            return true;
        }
        if (v instanceof List<?> l) {
            return l.stream().allMatch(x -> x instanceof Number)
                    || l.stream()
                            .allMatch(x -> x instanceof Map<?, ?> m
                                    && m.keySet().stream().allMatch(k -> k.equals("filter") || k.equals("value"))
                                    && (m.get("filter") == null || m.get("filter") instanceof String)
                                    && mergekitSetting(m.get("value")));
        }
        return false;
    }

    @Test
    @SuppressWarnings("unchecked")
    void mergeConfigYamlHoldsOnlyWhatMergekitAccepts() throws Exception {
        // paft-only values: consensus count, rescale l1 (DARE: mergekit's true is L1, paft's 1/density),
        // the seed given by flag, a string-valued unknown per-model parameter, out_dtype bf16
        Path models = ROOT.resolve("models").toAbsolutePath();
        MergeSpec spec = MergeSpec.builder("dare_ties", models.resolve("base").toString())
                .input(models.resolve("m1").toString(), Map.of("weight", 0.5, "density", 0.5))
                .input(
                        models.resolve("base") + "+" + models.resolve("lora"),
                        new LinkedHashMap<>(Map.of("weight", List.of(0.2, 0.8), "density", 0.7, "note", "x")))
                .parameters(new LinkedHashMap<>(Map.of(
                        "consensus",
                        "count",
                        "rescale",
                        "l1",
                        "normalize",
                        true,
                        "lambda",
                        List.of(Map.of("filter", "mlp", "value", 0.9), Map.of("value", 1.0)))))
                .outDtype("bf16")
                .build();
        Path out = tmp.resolve("dare");
        MergeRunner.run(spec, new MergeRunner.Options(out, false, 7L, 0, s -> {}));
        Map<String, Object> y = MergeSpec.readMap(out.resolve("merge_config.yaml"));
        assertEquals("bfloat16", y.get("out_dtype")); // mergekit's dtype_from_name knows bfloat16, float16, float32
        assertFalse(y.containsKey("dtype"));
        Map<String, Object> params = (Map<String, Object>) y.get("parameters");
        params.forEach((k, v) -> assertTrue(mergekitSetting(v), "parameters." + k + ": " + v));
        assertEquals(true, params.get("rescale"));
        for (Object e : (List<Object>) y.get("models")) {
            Map<String, Object> m = (Map<String, Object>) e;
            ((Map<String, Object>) m.get("parameters")).forEach((k, v) -> assertTrue(mergekitSetting(v), k + ": " + v));
        }
        Map<String, Object> second = (Map<String, Object>) ((List<Object>) y.get("models")).get(1);
        assertEquals(
                models.resolve("base") + "+" + models.resolve("lora"), second.get("model")); // mergekit's MODEL+LORA
        assertEquals(Map.of("note", "x"), second.get(MergeSpec.PAFT_PARAMETERS));
        Map<String, Object> paft = (Map<String, Object>) y.get(MergeSpec.PAFT_PARAMETERS);
        assertEquals("count", paft.get("consensus"));
        assertEquals("l1", paft.get("rescale"));
        assertEquals(7, ((Number) paft.get("seed")).intValue());
        // paft reads the file back to the same merge
        Path again = tmp.resolve("again");
        MergeRunner.run(
                MergeSpec.fromMergekit(out.resolve("merge_config.yaml")), new MergeRunner.Options(again, false));
        Map<String, float[]> a = read(out);
        Map<String, float[]> b = read(again);
        a.forEach((k, v) -> Assertions.assertArrayEquals(v, b.get(k), k));
        // without a rescale given, DARE's rule (1/density, paft's default) is recorded for paft
        Path plain = tmp.resolve("plain");
        MergeRunner.run(
                MergeSpec.builder("dare_linear", models.resolve("base").toString())
                        .input(models.resolve("m1").toString(), Map.of("weight", 1.0, "density", 0.5))
                        .dtype("float32")
                        .build(),
                new MergeRunner.Options(plain, false));
        Map<String, Object> y2 = MergeSpec.readMap(plain.resolve("merge_config.yaml"));
        assertEquals(Map.of("rescale", "density", "seed", 42), y2.get(MergeSpec.PAFT_PARAMETERS));
        assertEquals("float32", y2.get("dtype"));
    }
}
