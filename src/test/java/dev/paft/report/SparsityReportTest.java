package dev.paft.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.PeftAdapter;
import dev.paft.testutil.TestAdapters;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SparsityReportTest {
    @TempDir
    Path tmp;

    private static final float P17 = 0x1p-17f; // 7.6e-6: below 1e-5 unscaled, 1.5e-5 (above) when scaled by 2
    private static final float P20 = 0x1p-20f; // 9.5e-7: below either way

    /**
     * Hand-built r = 1, alpha = 2 (scaling 2) adapter:
     * layer 0 q: B = [1, P17]^T, A = [1, P20] -> delta = [[1, P20], [P17, P17*P20]]: 3 of 4 below 1e-5,
     *   scaled [[2, 2 P20], [2 P17, 2 P17 P20]]: 2 of 4 below;
     * layer 0 up: B = 0 [3, 1], A [1, 2] -> 6 zeros;
     * layer 1 k: B = [1, 1]^T, A = [1, 1] -> 4 ones, none below.
     */
    private Path handBuilt() {
        Map<String, PeftAdapter.LoraPair> m = new LinkedHashMap<>();
        m.put(
                "model.layers.0.self_attn.q_proj",
                TestAdapters.pair(new float[] {1, P20}, 1, 2, new float[] {1, P17}, 2));
        m.put("model.layers.0.mlp.up_proj", TestAdapters.pair(new float[] {0.5f, 0.25f}, 1, 2, new float[3], 3));
        m.put("model.layers.1.self_attn.k_proj", TestAdapters.pair(new float[] {1, 1}, 1, 2, new float[] {1, 1}, 2));
        return TestAdapters.write(new PeftAdapter(TestAdapters.config(1, 2), m), tmp.resolve("hand"));
    }

    @Test
    void handBuiltAdapterKnownAnswers() {
        SparsityReport r =
                SparsityReport.compute(List.of(ReportInput.adapter("H", handBuilt())), ReportOptions.defaults());
        InputReport in = r.input("H");
        assertEquals(2.0, in.scaling());
        ModuleStats q = in.modules().get(0);
        assertEquals(0, q.layer());
        assertEquals("q", q.type());
        assertEquals(4, q.unscaled().numel());
        assertEquals(3, q.unscaled().below()[0]);
        assertEquals(2, q.scaled().below()[0]);
        double l1 = 1 + (double) P20 + P17 + (double) (P17 * P20);
        assertEquals(l1, q.unscaled().l1(), 1e-7); // norms accumulate in float32 within a tile row
        assertEquals(2 * l1, q.scaled().l1(), 2e-7);
        assertEquals(
                Math.sqrt(1 + (double) P20 * P20 + (double) P17 * P17 + Math.pow(P17 * P20, 2)),
                q.unscaled().l2(),
                1e-7);
        assertEquals(1.0, q.unscaled().maxAbs());
        assertEquals(2.0, q.scaled().maxAbs());

        // layer 0 pools q (3 of 4) and up (6 of 6): 9 / 10; layer 1: 0 / 4
        List<GroupStats> layers = in.layers();
        assertEquals(2, layers.size());
        assertEquals(0.9, layers.get(0).unscaled().fraction(0), 1e-15);
        assertEquals(0.8, layers.get(0).scaled().fraction(0), 1e-15);
        assertEquals(0.0, layers.get(1).unscaled().fraction(0));
        // Figure 2 number: mean over layers
        assertEquals(0.45, in.meanLayerFraction(View.UNSCALED, 0), 1e-15);
        assertEquals(0.40, in.meanLayerFraction(View.SCALED, 0), 1e-15);
        // pooled over everything: 9 of 14
        assertEquals(9.0 / 14, in.total().unscaled().fraction(0), 1e-15);
        // types in q, k, v, o, gate, up, down order
        assertEquals(
                List.of("q", "k", "up"),
                in.types().stream().map(GroupStats::key).toList());
        assertEquals(1.0, in.types().get(2).unscaled().fraction(0));
    }

    @Test
    void matchesNaiveDeltaExactlyAcrossTilesAndScalings() {
        Random rnd = new Random(7);
        // out 300 > ROW_BLOCK, in 2500 > TILE and not a multiple of it; scaling 10/3 is not a power of two
        for (double alpha : new double[] {10, 3, 32}) {
            PeftAdapter.LoraPair p = TestAdapters.randomPair(rnd, 3, 2500, 300);
            Path dir = TestAdapters.write(
                    new PeftAdapter(TestAdapters.config(3, alpha), Map.of("model.layers.0.mlp.down_proj", p)),
                    tmp.resolve("naive" + alpha));
            List<Double> ts = List.of(1e-5, 3e-6, 1e-4, 2.5e-3);
            InputReport in = SparsityReport.compute(
                            List.of(ReportInput.adapter("x", dir)), new ReportOptions(ts, false, 3))
                    .inputs()
                    .get(0);
            ModuleStats m = in.modules().get(0);
            for (boolean scaled : new boolean[] {false, true}) {
                float[] d = PeftAdapter.delta(p, scaled ? alpha / 3 : 1);
                DeltaStats s = scaled ? m.scaled() : m.unscaled();
                double l1 = 0;
                double sq = 0;
                float max = 0;
                long[] below = new long[ts.size()];
                for (float v : d) {
                    double x = Math.abs(v);
                    l1 += x;
                    sq += x * x;
                    max = Math.max(max, Math.abs(v));
                    for (int t = 0; t < ts.size(); t++) {
                        below[t] += x < ts.get(t) ? 1 : 0;
                    }
                }
                assertArrayEquals(below, s.below(), "alpha " + alpha + " scaled " + scaled);
                assertEquals(d.length, s.numel());
                // scaled norms are (alpha/r) times the unscaled ones, so they differ from the sums of the
                // float32 products fl(delta * scaling) by float rounding only
                double tol = scaled ? 1e-7 : 1e-5; // L1, L2 accumulate in float per tile row
                assertEquals(l1, s.l1(), tol * l1);
                assertEquals(Math.sqrt(sq), s.l2(), tol * Math.sqrt(sq));
                assertEquals(max, s.maxAbs(), 0);
            }
        }
    }

    @Test
    void thresholdSweepIsMonotone() {
        Path dir = TestAdapters.write(TestAdapters.random(1, 4, 4, 8), tmp.resolve("sweep"));
        List<Double> ts = List.of(1e-3, 1e-7, 1e-5, 1e-6, 1e-4, 1e-2); // given unsorted: order is kept
        InputReport in = SparsityReport.compute(List.of(ReportInput.adapter("x", dir)), new ReportOptions(ts, false, 2))
                .inputs()
                .get(0);
        int[] sorted = {1, 3, 2, 4, 0, 5};
        for (View v : View.values()) {
            for (GroupStats g : concat(in.modules(), in.layers(), in.types(), List.of(in.total()))) {
                for (int i = 1; i < sorted.length; i++) {
                    assertTrue(g.stats(v).below()[sorted[i - 1]] <= g.stats(v).below()[sorted[i]], g.key());
                }
            }
            for (int i = 1; i < sorted.length; i++) {
                assertTrue(in.meanLayerFraction(v, sorted[i - 1]) <= in.meanLayerFraction(v, sorted[i]));
            }
        }
        // the sweep actually moves: not everything is 0% or 100%
        double mid = in.meanLayerFraction(View.UNSCALED, 2);
        assertTrue(mid > 0.01 && mid < 0.99, "fraction at 1e-5: " + mid);
    }

    @Test
    void zeroAdapterIsFullySparse() {
        PeftAdapter a = TestAdapters.random(2, 2, 4, 8);
        Map<String, PeftAdapter.LoraPair> zero = new LinkedHashMap<>();
        a.modules()
                .forEach((k, p) -> zero.put(
                        k,
                        new PeftAdapter.LoraPair(
                                p.a(), FloatTensor.of(new float[p.b().data().length], p.b().shape()))));
        Path dir = TestAdapters.write(new PeftAdapter(a.config(), zero), tmp.resolve("zero"));
        InputReport in = SparsityReport.compute(List.of(ReportInput.adapter("z", dir)), ReportOptions.defaults())
                .inputs()
                .get(0);
        for (View v : View.values()) {
            assertEquals(1.0, in.meanLayerFraction(v, 0));
            assertEquals(1.0, in.total().stats(v).fraction(0));
            assertEquals(0.0, in.total().stats(v).l1());
            assertEquals(0.0, in.total().stats(v).maxAbs());
        }
    }

    @Test
    void scaledEqualsUnscaledWhenAlphaEqualsR() {
        Path dir = TestAdapters.write(TestAdapters.random(3, 3, 8, 8), tmp.resolve("same"));
        InputReport in = SparsityReport.compute(
                        List.of(ReportInput.adapter("s", dir)), new ReportOptions(List.of(1e-5, 1e-4), false, 2))
                .inputs()
                .get(0);
        assertEquals(1.0, in.scaling());
        for (ModuleStats m : in.modules()) {
            assertEquals(m.unscaled(), m.scaled(), m.name());
        }
        assertEquals(in.meanLayerFraction(View.UNSCALED, 1), in.meanLayerFraction(View.SCALED, 1));
    }

    @Test
    void resultDoesNotDependOnThreadCount() {
        Path dir = TestAdapters.write(TestAdapters.random(4, 2, 4, 16), tmp.resolve("threads"));
        var one = SparsityReport.compute(
                List.of(ReportInput.adapter("t", dir)), new ReportOptions(List.of(1e-5), true, 1));
        var three = SparsityReport.compute(
                List.of(ReportInput.adapter("t", dir)), new ReportOptions(List.of(1e-5), true, 3));
        assertEquals(one.inputs().get(0).modules(), three.inputs().get(0).modules());
        assertArrayEquals(one.inputs().get(0).histogram(), three.inputs().get(0).histogram());
    }

    @Test
    void histogramCountsEveryElement() {
        Path dir = handBuilt();
        InputReport in = SparsityReport.compute(
                        List.of(ReportInput.adapter("h", dir)),
                        ReportOptions.defaults().withHistogram(true))
                .inputs()
                .get(0);
        long[] h = in.histogram();
        assertEquals(14, Arrays.stream(h).sum());
        assertEquals(6, h[0]); // the up_proj zeros
        assertEquals(5, h[Float.floatToIntBits(1f) >>> 20]); // the four ones of k and q's 1
        assertTrue(Histogram.log10Centre(Float.floatToIntBits(1f) >>> 20) > 0
                && Histogram.log10Centre(Float.floatToIntBits(1f) >>> 20) < Math.log10(2));
    }

    @Test
    void modelMinusBaseOverLayerWeights() throws Exception {
        // base in BF16, model in F32; delta per 2-D layer weight; norms and embeddings are skipped
        Map<String, FloatTensor> base = new LinkedHashMap<>();
        base.put("model.embed_tokens.weight", FloatTensor.of(new float[] {1, 2, 3, 4}, 2, 2));
        base.put("model.layers.0.self_attn.q_proj.weight", FloatTensor.of(new float[] {1, 2, 3, 4}, 2, 2));
        base.put("model.layers.0.input_layernorm.weight", FloatTensor.of(new float[] {1, 1}, 2));
        base.put("model.layers.1.mlp.down_proj.weight", FloatTensor.of(new float[] {0.5f, 0.5f}, 1, 2));
        Map<String, FloatTensor> model = new LinkedHashMap<>(base);
        model.put("model.embed_tokens.weight", FloatTensor.of(new float[] {9, 9, 9, 9}, 2, 2));
        model.put(
                "model.layers.0.self_attn.q_proj.weight",
                FloatTensor.of(new float[] {1, 2.5f, 3, 4 + 0x1p-20f * 4}, 2, 2));
        model.put("model.layers.0.input_layernorm.weight", FloatTensor.of(new float[] {5, 5}, 2));
        Path b = TestAdapters.writeModel(tmp.resolve("base"), base, DType.BF16);
        Path m = TestAdapters.writeModel(tmp.resolve("model"), model, DType.F32);
        InputReport in = SparsityReport.compute(List.of(ReportInput.model("M", m, b)), ReportOptions.defaults())
                .inputs()
                .get(0);
        assertEquals(InputReport.Kind.MODEL_DELTA, in.kind());
        assertEquals(
                List.of("model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"),
                in.modules().stream().map(ModuleStats::name).toList());
        ModuleStats q = in.modules().get(0);
        assertEquals(3, q.unscaled().below()[0]); // 0, 0.5, 0, 2^-18 (below 1e-5? 3.8e-6 yes)
        assertEquals(0.5 + 0x1p-18, q.unscaled().l1(), 0);
        assertEquals(q.unscaled(), q.scaled());
        assertEquals((0.75 + 1.0) / 2, in.meanLayerFraction(View.UNSCALED, 0));
    }

    @Test
    void errorsMapToExitCodes() throws Exception {
        Path good = handBuilt();
        assertEquals(
                PaftException.BAD_INPUT,
                assertThrows(
                                PaftException.class,
                                () -> SparsityReport.compute(
                                        List.of(
                                                ReportInput.adapter("a", good),
                                                ReportInput.adapter("b", tmp.resolve("missing"))),
                                        ReportOptions.defaults()))
                        .exitCode());
        Files.createDirectories(tmp.resolve("plain"));
        PaftException notAdapter = assertThrows(
                PaftException.class,
                () -> SparsityReport.compute(
                        List.of(ReportInput.adapter("p", tmp.resolve("plain"))), ReportOptions.defaults()));
        assertEquals(PaftException.BAD_INPUT, notAdapter.exitCode());
        assertTrue(notAdapter.getMessage().contains("--base"), notAdapter.getMessage());
        for (double bad : new double[] {0, -1e-5, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertEquals(
                    PaftException.USAGE,
                    assertThrows(
                                    PaftException.class,
                                    () -> SparsityReport.compute(
                                            List.of(ReportInput.adapter("a", good)),
                                            new ReportOptions(List.of(bad), false, 1)))
                            .exitCode());
        }
        assertEquals(
                PaftException.USAGE,
                assertThrows(
                                PaftException.class,
                                () -> SparsityReport.compute(
                                        List.of(ReportInput.adapter("a", good), ReportInput.adapter("a", good)),
                                        ReportOptions.defaults()))
                        .exitCode());
        // NaN in a factor -> numeric failure naming the module
        Path nan = TestAdapters.write(
                new PeftAdapter(
                        TestAdapters.config(1, 1),
                        Map.of(
                                "model.layers.0.self_attn.v_proj",
                                TestAdapters.pair(new float[] {Float.NaN, 1}, 1, 2, new float[] {1}, 1))),
                tmp.resolve("nan"));
        PaftException e = assertThrows(
                PaftException.class,
                () -> SparsityReport.compute(List.of(ReportInput.adapter("n", nan)), ReportOptions.defaults()));
        assertEquals(PaftException.NUMERIC, e.exitCode());
        assertTrue(e.getMessage().contains("v_proj"), e.getMessage());
    }

    @Test
    void cutoffsAreExact() {
        for (double t : new double[] {1e-5, 1e-7, 0.1, 3e-3, 1.0}) {
            float c = DeltaKernel.cutoff(t);
            assertTrue(c >= t && Math.nextDown(c) < t);
            for (float s : new float[] {2f, 0.5f, 10f / 3, 16f / 7, 1e3f}) {
                float x = DeltaKernel.scaledCutoff(t, s);
                assertTrue(x * s >= t, t + " " + s);
                assertTrue(Math.nextDown(x) * s < t, t + " " + s);
            }
        }
        assertEquals(Float.POSITIVE_INFINITY, DeltaKernel.scaledCutoff(1e-5, 0f));
    }

    @SafeVarargs
    private static List<GroupStats> concat(List<? extends GroupStats>... lists) {
        List<GroupStats> out = new ArrayList<>();
        for (List<? extends GroupStats> l : lists) {
            out.addAll(l);
        }
        return out;
    }
}
