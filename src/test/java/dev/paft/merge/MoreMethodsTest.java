package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The methods of issue 16 on small hand-computed tensors (each derivation in the comments). */
class MoreMethodsTest {
    private static final float TOL = 1e-6f;

    /** Runs a method on one tensor: defaults filled in, {@code global} and {@code per} laid over them. */
    static float[] run(
            String method,
            long[] shape,
            float[] base,
            float[][] inputs,
            Map<String, Object> global,
            List<Map<String, Object>> per) {
        MergeMethod m = MergeMethods.get(method);
        Map<String, Object> g = new LinkedHashMap<>(m.parameters());
        g.putAll(global);
        List<Params> ps = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            Map<String, Object> p = new LinkedHashMap<>(m.tensorParameters());
            if (per != null) {
                p.putAll(per.get(i));
            }
            ps.add(new Params("input " + i, p));
        }
        Params gp = new Params("test", g);
        m.validateInputs(inputs.length);
        m.validate(gp, ps);
        float[][] in = new float[inputs.length][];
        for (int i = 0; i < inputs.length; i++) {
            in[i] = inputs[i].clone();
        }
        return m.merge(new MergeMethod.MergeTensor(
                "x", shape, base == null ? null : base.clone(), in, gp, ps, 42, float[]::new));
    }

    static float[] run(String method, float[] base, float[][] inputs, Map<String, Object> global) {
        return run(method, new long[] {inputs[0].length}, base, inputs, global, null);
    }

    static List<Map<String, Object>> weights(double... w) {
        List<Map<String, Object>> l = new ArrayList<>();
        for (double x : w) {
            l.add(Map.of("weight", x));
        }
        return l;
    }

    @Test
    void nearswap() {
        // t = 0.2, |a - b| = [0.5, 0.1, 0 (-> 1e-6), 2]: w = [0.4, 1, 1, 0.1]; w b + (1 - w) a
        float[] a = {0, 1, 2, 5};
        float[] b = {0.5f, 1.1f, 2, 3};
        float[] out = run("nearswap", a, new float[][] {b}, Map.of("t", 0.2));
        assertArrayEquals(new float[] {0.2f, 1.1f, 2, 4.8f}, out, TOL);
    }

    @Test
    void passthroughScales() {
        float[] out = run(
                "passthrough", new long[] {2}, null, new float[][] {{2, -4}}, Map.of(), List.of(Map.of("scale", 0.5)));
        assertArrayEquals(new float[] {1, -2}, out);
        out = run("passthrough", new long[] {2}, null, new float[][] {{2, -4}}, Map.of(), null);
        assertArrayEquals(new float[] {2, -4}, out);
    }

    // ram: epsilon 0.1. j0: inputs 1 and 2 active -> (1 + 3) / 2; j1: none; j2: 0.05 <= epsilon, none;
    // j3: (2 + 4) / 2; j4: input 2 alone (unique) -> -1; j5: input 1 alone -> 0.5
    static final float[][] RAM = {{1, 0, 0.05f, 2, 0, 0.5f}, {3, 0, 0, 0, -1, 0}, {0, 0, 0, 4, 0, 0}};

    @Test
    void ram() {
        float[] out = run("ram", new float[6], RAM, Map.of("epsilon", 0.1));
        assertArrayEquals(new float[] {2, 0, 0, 3, -1, 0.5f}, out, TOL);
    }

    @Test
    void ramPlusScalesUniqueValues() {
        // per input (shared, unique): 1: (2, 1), 2: (1, 1), 3: (1, 0). rho = shared / max(unique, eps):
        // 2, 1, 1e1/1e-1... ; alpha 2, r 0.5: lambda = 1 + 0.5 min(rho, 2) = [2, 1.5, 2]
        float[] out = run("ramplus_tl", new float[6], RAM, Map.of("epsilon", 0.1, "r", 0.5, "alpha", 2.0));
        assertArrayEquals(new float[] {2, 0, 0, 3, -1.5f, 1.0f}, out, TOL);
        // alpha 0.4 clamps every rho: lambda = 1.2 for all
        out = run("ramplus_tl", new float[6], RAM, Map.of("epsilon", 0.1, "r", 0.5, "alpha", 0.4));
        assertArrayEquals(new float[] {2, 0, 0, 3, -1.2f, 0.6f}, out, TOL);
    }

    @Test
    void sce() {
        // d1 = [1, -2, 0], d2 = [3, 2, 5]; w = mean(d^2) = [5/3, 38/3] / (43/3) = [5/43, 38/43]
        // j0: sum 4 elects +, both agree: (1 * 5 + 3 * 38) / 43 = 119/43; j1: sum 0 elects +, d2 alone: 2;
        // j2: d1's zero never agrees: 5
        float[][] d = {{1, -2, 0}, {3, 2, 5}};
        float[] base = {10, 10, 10};
        float[] out = run("sce", base, d, Map.of());
        assertArrayEquals(new float[] {10 + 119f / 43, 12, 15}, out, TOL);
        // select_topk 0.5: variances [1, 4, 6.25], all nonzero: k = int(3 * 0.5) = 1 keeps j2 only;
        // then w = [0, 1]: j2 = 5, the rest 0 / max(0, 1e-6) = 0
        out = run("sce", base, d, Map.of("select_topk", 0.5));
        assertArrayEquals(new float[] {10, 10, 15}, out, TOL);
    }

    @Test
    void sceBlockedMixIsTheDefinitionBitForBit() {
        // zeros, +-0, equal values of opposite signs (votes of exactly 0), tiny and large values, three
        // inputs over more than one block with a ragged end
        Random r = new Random(9);
        int n = 5000;
        float[][] d = new float[3][n];
        float[] pick = {0f, -0f, 1f, -1f, 1e-30f, -1e-30f, 3.5f, -3.5f, 1e20f};
        for (float[] x : d) {
            for (int j = 0; j < n; j++) {
                x[j] = r.nextInt(3) == 0 ? pick[r.nextInt(pick.length)] : (float) r.nextGaussian();
            }
        }
        float[] w = {0.2f, 0.7f, 1e-7f};
        float[] base = new float[n];
        for (int j = 0; j < n; j++) {
            base[j] = (float) r.nextGaussian();
        }
        float[] fast = base.clone();
        float[] ref = base.clone();
        SceMerge.eraseAndMix(fast, d, w, 0, n);
        SceMerge.eraseAndMixReference(ref, d, w, 0, n);
        for (int j = 0; j < n; j++) {
            assertEquals(Float.floatToRawIntBits(ref[j]), Float.floatToRawIntBits(fast[j]), "element " + j);
        }
    }

    @Test
    void modelStock() {
        // base 1; offsets [1, 1] and [1, 0]: cos = 1/sqrt(2); N = 2: t = 2c / (1 + c) = 2 (sqrt(2) - 1);
        // out = t * mean(w_i) + (1 - t) base = base + t * [1, 0.5]
        double t = 2 * (Math.sqrt(2) - 1);
        float[] out = run("model_stock", new float[] {1, 1}, new float[][] {{2, 2}, {2, 1}}, Map.of());
        assertArrayEquals(new float[] {(float) (1 + t), (float) (1 + t / 2)}, out, TOL);
        // filter_wise on [2, 2]: row 0 as above; row 1 offsets [2, 0] and [0, 3] are orthogonal: t = 0, the base
        out = run(
                "model_stock",
                new long[] {2, 2},
                new float[4],
                new float[][] {{1, 1, 2, 0}, {1, 0, 0, 3}},
                Map.of("filter_wise", true),
                null);
        assertArrayEquals(new float[] {(float) t, (float) (t / 2), 0, 0}, out, TOL);
    }

    @Test
    void nuslerp() {
        // [1, 0] and [0, 1], weights 1, 1: t = 0.5, theta = pi/2: sin(pi/4) each
        float s = (float) Math.sin(Math.PI / 4);
        float[][] v = {{1, 0}, {0, 1}};
        assertArrayEquals(new float[] {s, s}, run("nuslerp", new long[] {2}, null, v, Map.of(), weights(1, 1)), TOL);
        // weights 1, 3: t = 0.75: [sin(pi/8), sin(3 pi/8)]
        assertArrayEquals(
                new float[] {(float) Math.sin(Math.PI / 8), (float) Math.sin(3 * Math.PI / 8)},
                run("nuslerp", new long[] {2}, null, v, Map.of(), weights(1, 3)),
                TOL);
        // with a base [1, 1]: the task vectors are the same pair, the base added back
        assertArrayEquals(
                new float[] {1 + s, 1 + s},
                run(
                        "nuslerp",
                        new long[] {2},
                        new float[] {1, 1},
                        new float[][] {{2, 1}, {1, 2}},
                        Map.of(),
                        weights(1, 1)),
                TOL);
        // rows of [[1, 0], [2, 0]] and [[0, 1], [4, 0]]: row 0 as above; row 1 colinear -> lerp [3, 0]
        float[][] m = {{1, 0, 2, 0}, {0, 1, 4, 0}};
        assertArrayEquals(
                new float[] {s, s, 3, 0},
                run("nuslerp", new long[] {2, 2}, null, m, Map.of("nuslerp_flatten", false), weights(1, 1)),
                TOL);
        // columns (nuslerp_row_wise): column 0 (1, 2) / (0, 4): cos = 2/sqrt(5), sin = 1/sqrt(5),
        // out = sin(theta/2)/sin(theta) (1, 6); column 1 (0, 0) / (1, 0): the zero vector's direction is 0,
        // theta = pi/2: sin(pi/4) (1, 0)
        double th = Math.acos(2 / Math.sqrt(5));
        float f = (float) (Math.sin(th / 2) / Math.sin(th));
        assertArrayEquals(
                new float[] {f, s, 6 * f, 0},
                run(
                        "nuslerp",
                        new long[] {2, 2},
                        null,
                        m,
                        Map.of("nuslerp_flatten", false, "nuslerp_row_wise", true),
                        weights(1, 1)),
                TOL);
    }

    @Test
    void multislerp() {
        // [2, 0] and [0, 4], weights 3 and 1 (normalized 0.75, 0.25): the mean direction of the unit
        // vectors is (0.75, 0.25)/|.|, the tangent vectors' weighted sum is 0, the norm 0.75*2 + 0.25*4 = 2.5
        double h = Math.hypot(0.75, 0.25);
        float[] out = run("multislerp", new long[] {2}, null, new float[][] {{2, 0}, {0, 4}}, Map.of(), weights(3, 1));
        assertArrayEquals(new float[] {(float) (0.75 / h * 2.5), (float) (0.25 / h * 2.5)}, out, TOL);
        // with a base: the same on the task vectors, plus the base
        out = run(
                "multislerp",
                new long[] {2},
                new float[] {1, -1},
                new float[][] {{3, -1}, {1, 3}},
                Map.of(),
                weights(3, 1));
        assertArrayEquals(new float[] {(float) (1 + 0.75 / h * 2.5), (float) (-1 + 0.25 / h * 2.5)}, out, TOL);
        // a and -a with equal weights cancel: two inputs fall back to the weighted sum (0), three exit 2
        out = run("multislerp", new long[] {2}, null, new float[][] {{1, 2}, {-1, -2}}, Map.of(), weights(1, 1));
        assertArrayEquals(new float[] {0, 0}, out, TOL);
        PaftException e = assertThrows(
                PaftException.class,
                () -> run(
                        "multislerp",
                        new long[] {2},
                        null,
                        new float[][] {{1, 2}, {-1, -2}, {0, 0}},
                        Map.of(),
                        weights(1, 1, 0)));
        assertEquals(2, e.exitCode());
    }

    @Test
    void karcherConvergesToTheMeanAngle() {
        // unit vectors at 0, 90 and 90 degrees, equal weights: the Karcher mean on the circle is the mean
        // angle, 60 degrees (the start, the normalized arithmetic mean, is at atan(2) = 63.4 degrees);
        // the norms are 1: [cos 60, sin 60]
        float[] out = run("karcher", null, new float[][] {{1, 0}, {0, 1}, {0, 1}}, Map.of());
        assertArrayEquals(new float[] {0.5f, (float) Math.sqrt(0.75)}, out, TOL);
        // max_iter 0: the start, scaled by the mean norm (1 * 1/3 + 2 * 2/3 = 5/3)
        out = run("karcher", null, new float[][] {{1, 0}, {0, 2}, {0, 2}}, Map.of("max_iter", 0.0));
        float r = (float) Math.sqrt(5);
        assertArrayEquals(new float[] {5f / 3 / r, 5f / 3 * 2 / r}, out, TOL);
        // two orthogonal inputs of norms 2 and 4: the bisector times 3
        out = run("karcher", null, new float[][] {{2, 0}, {0, 4}}, Map.of());
        float c = (float) (3 / Math.sqrt(2));
        assertArrayEquals(new float[] {c, c}, out, TOL);
    }

    @Test
    void arceeFusionKeepsTheOutlyingChanges() {
        // one row: the KL of the two softmaxes is one k > 0 for all its entries, so importance >= threshold
        // is |d| >= Q(0.5) + 1.5 (Q(0.75) - Q(0.25)) of |d| = [1..7, 100]: s[3] + 1.5 (s[5] - s[1]) =
        // 4 + 1.5 * 4 = 10: only the last change is taken
        float[] b = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
        float[] d = {1, -2, 3, -4, 5, -6, 7, 100};
        float[] m = new float[8];
        for (int j = 0; j < 8; j++) {
            m[j] = b[j] + d[j];
        }
        float[] out = run("arcee_fusion", new long[] {8}, b, new float[][] {m}, Map.of(), null);
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 100.5f}, out, TOL);
    }

    @Test
    void kthIsExactOnNegativesZerosAndTies() {
        float[] v = {3, -1, 0, -0f, 2, 2, -5, 7, 1e-30f, -1e-30f};
        float[] sorted = v.clone();
        Arrays.sort(sorted);
        for (int k = 0; k < v.length; k++) {
            assertEquals(sorted[k], ArceeFusionMerge.kth(v, k), 0f, "k=" + k);
        }
    }

    @Test
    void inputCountsAndParametersAreChecked() {
        assertEquals(
                2,
                assertThrows(
                                PaftException.class,
                                () -> MergeMethods.get("nuslerp").validateInputs(3))
                        .exitCode());
        assertEquals(
                2,
                assertThrows(
                                PaftException.class,
                                () -> MergeMethods.get("model_stock").validateInputs(1))
                        .exitCode());
        assertEquals(
                2,
                assertThrows(
                                PaftException.class,
                                () -> MergeMethods.get("nearswap").validateInputs(2))
                        .exitCode());
        assertEquals(
                2,
                assertThrows(
                                PaftException.class,
                                () -> MergeMethods.get("passthrough").validateInputs(2))
                        .exitCode());
        assertEquals(
                2,
                assertThrows(
                                PaftException.class,
                                () -> run("sce", new float[2], new float[][] {{1, 2}}, Map.of("select_topk", 0.0)))
                        .exitCode());
        assertEquals(
                2,
                assertThrows(
                                PaftException.class,
                                () -> run("karcher", null, new float[][] {{1, 2}, {2, 1}}, Map.of("max_iter", 2.5)))
                        .exitCode());
        // della: density +- epsilon must stay in (0, 1) (mergekit raises); density 1 prunes nothing
        PaftException e = assertThrows(
                PaftException.class,
                () -> run(
                        "della",
                        new long[] {2},
                        new float[2],
                        new float[][] {{1, 2}},
                        Map.of(),
                        List.of(Map.of("weight", 1.0, "density", 0.9, "epsilon", 0.15))));
        assertEquals(2, e.exitCode());
        assertTrue(e.getMessage().contains("epsilon"), e.getMessage());
        run(
                "della",
                new long[] {2},
                new float[2],
                new float[][] {{1, 2}},
                Map.of(),
                List.of(Map.of("weight", 1.0, "density", 1.0)));
    }

    @Test
    void nonFiniteInputsAreNamed() {
        for (String m :
                List.of("sce", "ram", "nearswap", "arcee_fusion", "model_stock", "nuslerp", "multislerp", "karcher")) {
            float[][] in = m.equals("nearswap") || m.equals("arcee_fusion")
                    ? new float[][] {{1, Float.NaN}}
                    : new float[][] {{1, 2}, {1, Float.NaN}};
            NonFiniteInputException e = assertThrows(
                    NonFiniteInputException.class,
                    () -> run(
                            m,
                            new long[] {2},
                            new float[] {0.5f, 0.5f},
                            in,
                            Map.of("t", 0.1),
                            in.length == 2 ? weights(1, 1) : null),
                    m);
            assertEquals(in.length - 1, e.input(), m);
            assertEquals(1, e.element(), m);
        }
    }
}
