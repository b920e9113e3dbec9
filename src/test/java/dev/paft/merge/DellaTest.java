package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * della / della_linear (random masks): statistics of the magnitude-ranked drop (kept fraction overall
 * and by rank, the rescale rules, the rows it ranks within) and every merged element explained by
 * some keep pattern of the inputs.
 */
class DellaTest {
    static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int j = 0; j < n; j++) {
            v[j] = (float) r.nextGaussian();
        }
        return v;
    }

    /** Rank of each element by |v| ascending within its row of {@code len} contiguous elements (ties by index). */
    static int[] ranks(float[] v, int len) {
        int[] rank = new int[v.length];
        for (int s = 0; s < v.length; s += len) {
            Integer[] idx = new Integer[len];
            for (int k = 0; k < len; k++) {
                idx[k] = s + k;
            }
            Arrays.sort(
                    idx,
                    (a, b) -> Float.compare(Math.abs(v[a]), Math.abs(v[b])) != 0
                            ? Float.compare(Math.abs(v[a]), Math.abs(v[b]))
                            : Integer.compare(a, b));
            for (int k = 0; k < len; k++) {
                rank[idx[k]] = k;
            }
        }
        return rank;
    }

    @Test
    void keptFractionIsDensityAndRisesWithMagnitude() {
        int rows = 400;
        int len = 250;
        float[] d = gaussian(rows * len, 1);
        float[] out = d.clone();
        double density = 0.4;
        double eps = 0.1;
        Sparsify.della(out, new long[] {rows, len}, density, eps, Sparsify.Rescale.NONE, 7);
        int[] rank = ranks(d, len);
        int kept = 0;
        int[] keptTop = new int[1];
        int[] keptBottom = new int[1];
        double pTop = 0;
        double pBottom = 0;
        int nTop = 0;
        int nBottom = 0;
        for (int j = 0; j < d.length; j++) {
            boolean k = out[j] != 0;
            // no rescale: a kept entry is the input itself
            assertTrue(!k || out[j] == d[j], "element " + j);
            kept += k ? 1 : 0;
            double p = density - eps + 2 * eps * rank[j] / (len - 1);
            if (rank[j] >= len - 25) {
                keptTop[0] += k ? 1 : 0;
                pTop += p;
                nTop++;
            } else if (rank[j] < 25) {
                keptBottom[0] += k ? 1 : 0;
                pBottom += p;
                nBottom++;
            }
        }
        // overall: mean keep probability is density; 4 standard deviations
        double n = d.length;
        assertEquals(density, kept / n, 4 * Math.sqrt(density * (1 - density) / n));
        // the largest tenth of each row is kept with ~ density + 0.9 epsilon, the smallest with ~ density - 0.9 epsilon
        assertEquals(pTop / nTop, (double) keptTop[0] / nTop, 4 * Math.sqrt(0.25 / nTop));
        assertEquals(pBottom / nBottom, (double) keptBottom[0] / nBottom, 4 * Math.sqrt(0.25 / nBottom));
        assertTrue(keptTop[0] > keptBottom[0] + 4 * Math.sqrt(nTop), keptTop[0] + " vs " + keptBottom[0]);
    }

    @Test
    void l1RescaleKeepsTheNormWithOneFactor() {
        float[] d = gaussian(64 * 32, 2);
        float[] out = d.clone();
        Sparsify.della(out, new long[] {64, 32}, 0.3, 0.2, Sparsify.Rescale.L1, 11);
        double l1 = 0;
        double keptL1 = 0;
        for (int j = 0; j < d.length; j++) {
            l1 += Math.abs(d[j]);
            if (out[j] != 0) {
                keptL1 += Math.abs(d[j]);
            }
        }
        float s = (float) (l1 / keptL1);
        double outL1 = 0;
        for (int j = 0; j < d.length; j++) {
            // every element: dropped, or the input times the one factor
            assertTrue(out[j] == 0 || out[j] == d[j] * s, "element " + j + ": " + out[j] + " vs " + d[j] + " * " + s);
            outL1 += Math.abs(out[j]);
        }
        assertEquals(l1, outL1, 1e-5 * l1);
        assertTrue(s > 2.5 && s < 4.5, "factor " + s);
    }

    @Test
    void densityRescaleDividesByEachKeepProbabilityAlongDimensionOne() {
        // shape [2, 3, 4]: mergekit ranks along dimension 1, groups of 3 entries at stride 4; with
        // density 0.5, epsilon 0.3 their keep probabilities are 0.2, 0.5, 0.8 by rank, and a kept entry
        // is d / p: p = d / out tells the rank the drop used
        long[] shape = {2, 3, 4};
        int seen = 0;
        for (long seed = 0; seed < 40; seed++) {
            float[] d = gaussian(24, 100 + seed);
            float[] out = d.clone();
            Sparsify.della(out, shape, 0.5, 0.3, Sparsify.Rescale.DENSITY, seed);
            for (int a = 0; a < 2; a++) {
                for (int c = 0; c < 4; c++) {
                    float[] g = new float[3];
                    for (int b = 0; b < 3; b++) {
                        g[b] = d[a * 12 + b * 4 + c];
                    }
                    int[] r = ranks(g, 3);
                    for (int b = 0; b < 3; b++) {
                        int j = a * 12 + b * 4 + c;
                        if (out[j] != 0) {
                            double p = 0.2 + 0.3 * r[b];
                            assertEquals((float) (d[j] / p), out[j], 0f, "element " + j);
                            seen++;
                        }
                    }
                }
            }
        }
        assertTrue(seen > 300, "kept " + seen + " of 960");
    }

    @Test
    void sameSeedSameMaskOtherSeedOtherMask() {
        float[] d = gaussian(1000, 3);
        float[] a = d.clone();
        float[] b = d.clone();
        float[] c = d.clone();
        Sparsify.della(a, new long[] {1000}, 0.5, 0.1, Sparsify.Rescale.L1, 5);
        Sparsify.della(b, new long[] {1000}, 0.5, 0.1, Sparsify.Rescale.L1, 5);
        Sparsify.della(c, new long[] {1000}, 0.5, 0.1, Sparsify.Rescale.L1, 6);
        assertTrue(Arrays.equals(a, b));
        assertFalse(Arrays.equals(a, c));
    }

    /**
     * A whole della merge: each output element is the TIES mix (della) or the weighted sum
     * (della_linear) of some subset of the inputs' entries, the subset each input's keep pattern.
     */
    @Test
    void everyMergedElementIsExplainedByAKeepPattern() {
        int n = 3000;
        float[] base = gaussian(n, 4);
        float[][] d = {gaussian(n, 5), gaussian(n, 6)};
        double[] w = {0.7, 0.4};
        for (String method : List.of("della", "della_linear")) {
            float[] out = MoreMethodsTest.run(
                    method,
                    new long[] {30, 100},
                    base,
                    d,
                    Map.of("rescale", false),
                    List.of(
                            Map.of("weight", w[0], "density", 0.5, "epsilon", 0.2),
                            Map.of("weight", w[1], "density", 0.5, "epsilon", 0.2)));
            int[] patterns = new int[4];
            for (int j = 0; j < n; j++) {
                int found = -1;
                for (int mask = 0; mask < 4 && found < 0; mask++) {
                    float[][] kept = new float[2][1];
                    for (int i = 0; i < 2; i++) {
                        kept[i][0] = (mask >> i & 1) != 0 ? d[i][j] : 0f;
                    }
                    float[] b = {base[j]};
                    TaskArithmeticMerge.mixReference(
                            b,
                            kept,
                            new float[] {(float) w[0], (float) w[1]},
                            1f,
                            method.equals("della"),
                            method.equals("della"),
                            false,
                            0,
                            1);
                    if (b[0] == out[j]) {
                        found = mask;
                    }
                }
                assertTrue(found >= 0, method + " element " + j + " is no keep pattern's mix");
                patterns[found]++;
            }
            if (method.equals("della")) {
                continue; // with consensus, both kept with opposite signs mixes like one kept: patterns overlap
            }
            // each input keeps about half of its entries, independently: every pattern ~ n/4
            for (int p : patterns) {
                assertEquals(n / 4.0, p, 4 * Math.sqrt(n * 0.25 * 0.75), method + " " + Arrays.toString(patterns));
            }
        }
    }
}
