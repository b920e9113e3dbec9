package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/** The vectorizable fast paths must be bit-identical to the element-by-element definitions. */
class FastPathEquivalenceTest {
    private static final float[] SPECIAL = {
        0f,
        -0f,
        Float.NaN,
        Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY,
        Float.MIN_VALUE,
        -Float.MIN_VALUE,
        Float.MAX_VALUE,
        -Float.MAX_VALUE,
        1f,
        -1f,
        0.5f
    };

    /** Random values with many zeros, exact ties, bf16-like coarse values, and (optionally) specials. */
    private static float[] data(SplittableRandom r, int n, boolean specials) {
        float[] v = new float[n];
        for (int j = 0; j < n; j++) {
            int kind = r.nextInt(10);
            v[j] = switch (kind) {
                case 0 -> 0f;
                case 1 -> -0f;
                case 2, 3 -> (r.nextInt(9) - 4) * 0.25f;
                default -> (float) r.nextGaussian() * 0.01f;
            };
            if (specials && r.nextInt(50) == 0) {
                v[j] = SPECIAL[r.nextInt(SPECIAL.length)];
            }
        }
        return v;
    }

    private static void assertBits(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length);
        for (int j = 0; j < want.length; j++) {
            // NaN sign and payload depend on whether the JIT compiled the loop: any NaN equals any NaN
            // (a non-finite merged tensor fails the merge with exit 4 either way).
            if (Float.floatToRawIntBits(want[j]) != Float.floatToRawIntBits(got[j])
                    && !(Float.isNaN(want[j]) && Float.isNaN(got[j]))) {
                assertEquals(
                        Float.floatToRawIntBits(want[j]),
                        Float.floatToRawIntBits(got[j]),
                        what + ": element " + j + ": want " + want[j] + " got " + got[j]);
            }
        }
    }

    @Test
    void mixMatchesReferenceBitForBit() {
        SplittableRandom r = new SplittableRandom(5);
        float[][] weightSets = {{0.5f, 0.5f}, {1f, -0.3f, 0.7f}, {-0f, 2f}, {0.25f}, {3e38f, 3e38f}, {1f, -1f}};
        for (float[] w : weightSets) {
            for (boolean specials : new boolean[] {false, true}) {
                for (int cfg = 0; cfg < 8; cfg++) {
                    boolean normalize = (cfg & 1) != 0;
                    boolean consensus = (cfg & 2) != 0;
                    boolean count = (cfg & 4) != 0;
                    float lambda = cfg % 3 == 0 ? 1f : 0.7f;
                    int n = 5000 + r.nextInt(3000);
                    float[] base = data(r, n, specials);
                    float[][] d = new float[w.length][];
                    for (int i = 0; i < w.length; i++) {
                        d[i] = data(r, n, specials);
                    }
                    float[] want = base.clone();
                    TaskArithmeticMerge.mixReference(want, d, w, lambda, normalize, consensus, count, 0, n);
                    float[] got = base.clone();
                    if (consensus && !allFinite(d)) {
                        // the consensus would drop a NaN / Inf input silently: refused (exit 4 in the runner)
                        Assertions.assertThrows(
                                NonFiniteInputException.class,
                                () -> TaskArithmeticMerge.mix(got, d, w, lambda, normalize, true, count));
                        continue;
                    }
                    TaskArithmeticMerge.mix(got, d, w, lambda, normalize, consensus, count);
                    assertBits(want, got, "w=" + Arrays.toString(w) + " cfg=" + cfg + " specials=" + specials);
                }
            }
        }
    }

    private static boolean allFinite(float[]... vs) {
        for (float[] v : vs) {
            for (float x : v) {
                if (!Float.isFinite(x)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** keepTopK against the reference; a tensor holding NaN / Inf is refused instead (the trim would keep or drop it silently). */
    private static void checkTopK(float[] v, int k, String what) {
        float[] want = v.clone();
        keepTopKReference(want, k);
        float[] got = v.clone();
        if (!allFinite(v) && k < v.length) {
            NonFiniteInputException e =
                    Assertions.assertThrows(NonFiniteInputException.class, () -> Sparsify.keepTopK(got, k), what);
            Assertions.assertFalse(Float.isFinite(v[(int) e.element()]), what);
            return;
        }
        Sparsify.keepTopK(got, k);
        assertBits(want, got, what);
    }

    /** The trim before the branch-free rewrite (one pass with branches). */
    static void keepTopKReference(float[] d, int k) {
        int n = d.length;
        if (k >= n) {
            return;
        }
        if (k <= 0) {
            Arrays.fill(d, 0f);
            return;
        }
        int[] hi = new int[1 << 16];
        for (float v : d) {
            hi[(Float.floatToRawIntBits(v) & 0x7fffffff) >>> 15]++;
        }
        int above = 0;
        int bin = hi.length - 1;
        while (above + hi[bin] < k) {
            above += hi[bin--];
        }
        int[] lo = new int[1 << 15];
        for (float v : d) {
            int m = Float.floatToRawIntBits(v) & 0x7fffffff;
            if (m >>> 15 == bin) {
                lo[m & 0x7fff]++;
            }
        }
        int low = lo.length - 1;
        while (above + lo[low] < k) {
            above += lo[low--];
        }
        int threshold = (bin << 15) | low;
        int tiesToKeep = k - above;
        for (int i = 0; i < n; i++) {
            int m = Float.floatToRawIntBits(d[i]) & 0x7fffffff;
            if (m < threshold) {
                d[i] = 0f;
            } else if (m == threshold) {
                if (tiesToKeep > 0) {
                    tiesToKeep--;
                } else {
                    d[i] = 0f;
                }
            }
        }
    }

    @Test
    void keepTopKMatchesReferenceBitForBit() {
        SplittableRandom r = new SplittableRandom(9);
        for (int rep = 0; rep < 40; rep++) {
            int n = 1 + r.nextInt(20000);
            float[] v = data(r, n, rep % 2 == 0);
            for (double density : new double[] {0.01, 0.1, 0.5, 0.6, 0.9, 0.999}) {
                int k = (int) (density * n);
                checkTopK(v, k, "n=" + n + " k=" + k);
            }
        }
    }

    /**
     * Both ways of {@link Sparsify#keepTopK}: the index list of the threshold's bin (spread values,
     * and values on a coarse grid with many exact ties that still fit the list) and the crowded-bin
     * fallback (few distinct values), with and without specials and signed zeros.
     */
    @Test
    void keepTopKMatchesReferenceOnSpreadAndTiedData() {
        SplittableRandom r = new SplittableRandom(13);
        for (int rep = 0; rep < 48; rep++) {
            int n = 1 + r.nextInt(60000);
            int kind = rep % 4;
            float[] v = new float[n];
            for (int j = 0; j < n; j++) {
                v[j] = switch (kind) {
                    case 0 -> (float) r.nextGaussian() * 0.01f; // spread
                    case 1 -> (r.nextInt(4001) - 2000) * 0x1p-13f; // grid: many ties
                    case 2 -> (r.nextInt(5) - 2) * 0x1p-13f; // crowded bins
                    default -> r.nextInt(7) == 0 ? (r.nextBoolean() ? 0f : -0f) : (float) r.nextGaussian();
                };
                if (rep % 3 == 0 && r.nextInt(200) == 0) {
                    v[j] = SPECIAL[r.nextInt(SPECIAL.length)];
                }
            }
            for (double density : new double[] {0.001, 0.1, 0.5, 0.77, 0.999}) {
                int k = (int) (density * n);
                checkTopK(v, k, "kind=" + kind + " n=" + n + " k=" + k);
            }
        }
    }

    @Test
    void allFiniteFindsEverySpecial() {
        float[] v = new float[100];
        Assertions.assertTrue(Floats.allFinite(v, 0, 100));
        for (float sp : SPECIAL) {
            for (int at : new int[] {0, 37, 99}) {
                float[] c = v.clone();
                c[at] = sp;
                assertEquals(Float.isFinite(sp), Floats.allFinite(c, 0, 100), sp + " at " + at);
                assertEquals(true, Floats.allFinite(c, at + 1, 100));
            }
        }
    }

    @Test
    void poolReusesByLengthWithinItsCap() {
        FloatPool p = new FloatPool(4L * 100);
        float[] a = p.get(50);
        float[] b = p.get(50);
        p.release(a, b, a);
        assertEquals(true, p.get(50) == b);
        assertEquals(true, p.get(50) == a);
        float[] c = p.get(60);
        p.release(c, a); // 240 + 200 bytes > 400: the older length (c) makes room for a
        assertEquals(true, p.get(50) == a);
        assertEquals(false, p.get(60) == c);
    }
}
