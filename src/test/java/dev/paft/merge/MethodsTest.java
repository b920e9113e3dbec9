package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Each method against small hand-computed tensors (values derived in the comments). */
class MethodsTest {
    private static Params g(Map<String, Object> m) {
        return new Params("test", m);
    }

    private static float[] ties(
            float[] base, float[][] d, double[] w, double[] dens, boolean normalize, String consensus) {
        List<Params> per = new ArrayList<>();
        for (int i = 0; i < d.length; i++) {
            per.add(g(Map.of("weight", w[i], "density", dens[i])));
        }
        return MergeMethods.get("ties")
                .merge(new MergeMethod.MergeTensor(
                        "x",
                        base.clone(),
                        clone(d),
                        g(Map.of(
                                "lambda",
                                1.0,
                                "normalize",
                                normalize,
                                "consensus",
                                consensus,
                                "int8_mask",
                                false,
                                "rescale",
                                false)),
                        per,
                        0));
    }

    private static float[][] clone(float[][] d) {
        float[][] c = new float[d.length][];
        for (int i = 0; i < d.length; i++) {
            c[i] = d[i].clone();
        }
        return c;
    }

    static final float[] D1 = {1, -2, 3, 0.5f};
    static final float[] D2 = {-1, -1, 2, -4};

    @Test
    void tiesWithoutTrim() {
        // sums [0, -3, 5, -3.5] elect [+, -, +, -]; agreeing entries / agreeing weights:
        // [1/1, (-2-1)/2, (3+2)/2, -4/1]
        float[] out = ties(new float[4], new float[][] {D1, D2}, new double[] {1, 1}, new double[] {1, 1}, true, "sum");
        assertArrayEquals(new float[] {1, -1.5f, 2.5f, -4}, out);
    }

    @Test
    void tiesWithTrimAndBase() {
        // density 0.5 keeps 2 of 4: d1 -> [0, -2, 3, 0], d2 -> [0, 0, 2, -4]; sums [0, -2, 5, -4]
        // j0: no nonzero entry agrees -> 0; j1: -2/1; j2: 5/2; j3: -4/1; plus base 10
        float[] base = {10, 10, 10, 10};
        float[] out = ties(base, new float[][] {D1, D2}, new double[] {1, 1}, new double[] {0.5, 0.5}, true, "sum");
        assertArrayEquals(new float[] {10, 8, 12.5f, 6}, out);
    }

    @Test
    void tiesWeightedAndUnnormalized() {
        // w = [2, 0.5]: W1 = [2, -4, 6, 1], W2 = [-0.5, -0.5, 1, -2]; sums [1.5, -4.5, 7, -1] -> [+, -, +, -]
        // without normalize: [2, -4.5, 7, -2]
        float[] out =
                ties(new float[4], new float[][] {D1, D2}, new double[] {2, 0.5}, new double[] {1, 1}, false, "sum");
        assertArrayEquals(new float[] {2, -4.5f, 7, -2}, out);
        // normalized: divide by agreeing weights [2, 2.5, 2.5, 0.5]
        out = ties(new float[4], new float[][] {D1, D2}, new double[] {2, 0.5}, new double[] {1, 1}, true, "sum");
        assertArrayEquals(new float[] {1, -4.5f / 2.5f, 7 / 2.5f, -4}, out);
    }

    @Test
    void tiesCountConsensus() {
        // three inputs; element 0: W = [5, -1, -1]: sum elects + (keeps 5), count elects - (keeps -1, -1)
        float[][] d = {{5}, {-1}, {-1}};
        float[] sum = ties(new float[1], d, new double[] {1, 1, 1}, new double[] {1, 1, 1}, true, "sum");
        float[] count = ties(new float[1], d, new double[] {1, 1, 1}, new double[] {1, 1, 1}, true, "count");
        assertArrayEquals(new float[] {5}, sum);
        assertArrayEquals(new float[] {-1}, count);
    }

    @Test
    void tiesOneInputWeightOneDensityOneIsTaskArithmetic() {
        float[] base = {0.25f, -3, 7, 1e-3f};
        float[] t = ties(base, new float[][] {D1}, new double[] {1}, new double[] {1}, true, "sum");
        float[] ta = MergeMethods.get("task_arithmetic")
                .merge(new MergeMethod.MergeTensor(
                        "x",
                        base.clone(),
                        new float[][] {D1.clone()},
                        g(Map.of("lambda", 1.0, "normalize", false, "int8_mask", false)),
                        List.of(g(Map.of("weight", 1.0))),
                        0));
        assertArrayEquals(ta, t);
    }

    @Test
    void taskArithmeticWithLambda() {
        // base + 0.5 * (1 * d1 + 0.5 * d2) = [0.5*(1-0.5), 0.5*(-2-0.5), 0.5*(3+1), 0.5*(0.5-2)]
        float[] out = MergeMethods.get("task_arithmetic")
                .merge(new MergeMethod.MergeTensor(
                        "x",
                        new float[4],
                        new float[][] {D1.clone(), D2.clone()},
                        g(Map.of("lambda", 0.5, "normalize", false, "int8_mask", false)),
                        List.of(g(Map.of("weight", 1.0)), g(Map.of("weight", 0.5))),
                        0));
        assertArrayEquals(new float[] {0.25f, -1.25f, 2f, -0.75f}, out);
    }

    @Test
    void linearNormalizedAndNot() {
        float[][] m = {{1, 2}, {3, 6}};
        assertArrayEquals(
                new float[] {2.5f, 5f}, LinearMerge.linear(clone(m), new float[] {1, 3}, true)); // (1+9)/4, (2+18)/4
        assertArrayEquals(new float[] {10f, 20f}, LinearMerge.linear(clone(m), new float[] {1, 3}, false));
    }

    @Test
    void slerpEndpointsAndOrthogonalMidpoint() {
        float[] a = {1, 0};
        float[] b = {0, 1};
        assertArrayEquals(a, SlerpMerge.slerp(0, a.clone(), b.clone()));
        assertArrayEquals(b, SlerpMerge.slerp(1, a.clone(), b.clone()));
        // theta = pi/2: sin(pi/4)/sin(pi/2) = sqrt(1/2) for both
        float[] mid = SlerpMerge.slerp(0.5, a.clone(), b.clone());
        assertEquals(Math.sqrt(0.5), mid[0], 1e-7);
        assertEquals(Math.sqrt(0.5), mid[1], 1e-7);
        // |v| = 2 vs 1: slerp on directions, magnitudes carried by the originals: 0.7071 * (2,0) + 0.7071 * (0,1)
        float[] mid2 = SlerpMerge.slerp(0.5, new float[] {2, 0}, b.clone());
        assertEquals(2 * Math.sqrt(0.5), mid2[0], 1e-6);
    }

    @Test
    void slerpFallsBackToLerpWhenColinear() {
        float[] a = {1, 2, 3};
        float[] b = {2, 4, 6.001f};
        float[] out = SlerpMerge.slerp(0.25, a.clone(), b.clone());
        for (int i = 0; i < 3; i++) {
            assertEquals(0.75f * a[i] + 0.25f * b[i], out[i], 1e-6f);
        }
    }

    @Test
    void registryHasMergekitNames() {
        // every method mergekit registers (mergekit/merge_methods/registry.py and the @merge_method ones)
        assertEquals(
                Set.of(
                        "linear",
                        "slerp",
                        "nuslerp",
                        "passthrough",
                        "model_stock",
                        "arcee_fusion",
                        "karcher",
                        "task_arithmetic",
                        "ties",
                        "dare_ties",
                        "dare_linear",
                        "breadcrumbs",
                        "breadcrumbs_ties",
                        "della",
                        "della_linear",
                        "sce",
                        "multislerp",
                        "nearswap",
                        "ram",
                        "ramplus_tl"),
                MergeMethods.REGISTRY.keySet());
        assertEquals(true, MergeMethods.get("della").parameters().get("normalize"));
        assertEquals(0.15, MergeMethods.get("della_linear").tensorParameters().get("epsilon"));
        assertEquals(true, MergeMethods.get("ties").parameters().get("normalize"));
        assertEquals(false, MergeMethods.get("dare_ties").parameters().get("normalize"));
        assertEquals(true, MergeMethods.get("dare_linear").parameters().get("rescale"));
    }

    @Test
    void paramValuesResolveGradientsAndFilters() {
        ParamValue grad = ParamValue.parse(List.of(0.0, 0.3, 0.7, 1.0), "w");
        assertEquals(0.0, (double) grad.resolve("x", 0));
        assertEquals(1.0, (double) grad.resolve("x", 1));
        assertEquals(0.5, (double) grad.resolve("x", 0.5), 1e-12); // halfway between 0.3 and 0.7
        ParamValue f = ParamValue.parse(List.of(Map.of("filter", "mlp", "value", 0.5), Map.of("value", 0)), "w");
        assertEquals(0.5, (double) f.resolve("model.layers.0.mlp.up_proj.weight", 0));
        assertEquals(0.0, (double) f.resolve("model.layers.0.self_attn.q_proj.weight", 0));
        // mergekit's match-all filter, and no match at all (null: the caller falls through)
        ParamValue star = ParamValue.parse(List.of(Map.of("filter", "*", "value", 0.3), Map.of("value", 0.9)), "t");
        assertEquals(0.3, (double) star.resolve("model.norm.weight", 0));
        ParamValue none = ParamValue.parse(List.of(Map.of("filter", "mlp", "value", 0.3)), "density");
        assertEquals(null, none.resolve("model.norm.weight", 0));
        // a list of booleans is a step function of t: entry int(t * (len - 1))
        ParamValue steps = ParamValue.parse(List.of(true, false, false), "normalize");
        assertEquals(true, steps.resolve("x", 0.49));
        assertEquals(false, steps.resolve("x", 0.5));
        assertEquals(0.0, MergePlan.tOf("model.embed_tokens.weight", 5));
        assertEquals(0.5, MergePlan.tOf("model.layers.2.mlp.up_proj.weight", 5));
        // mergekit's planner (since March 2025): everything outside the layers at t = 0
        assertEquals(0.0, MergePlan.tOf("lm_head.weight", 5));
        assertEquals(0.0, MergePlan.tOf("model.norm.weight", 5));
        assertEquals(1.0, MergePlan.tOf("model.layers.4.mlp.up_proj.weight", 5));
        assertEquals(1.0, MergePlan.tOf("model.layers.0.mlp.up_proj.weight", 1)); // one layer: t = 1, as mergekit
    }
}
