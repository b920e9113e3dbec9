package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SparsifyTest {
    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    private static int nonzero(float[] v) {
        int c = 0;
        for (float x : v) {
            c += x != 0f ? 1 : 0;
        }
        return c;
    }

    @Test
    void magnitudeKeepsIntDensityTimesNLargest() {
        for (double d : new double[] {0.1, 0.33, 0.5, 0.9}) {
            float[] v = gaussian(1001, 1);
            float[] orig = v.clone();
            int k = Sparsify.magnitude(v, d);
            assertEquals((int) (d * 1001), k);
            assertEquals(k, nonzero(v));
            // the kept entries are exactly the k largest |x|, unchanged
            float[] abs = new float[orig.length];
            for (int i = 0; i < abs.length; i++) {
                abs[i] = Math.abs(orig[i]);
            }
            Arrays.sort(abs);
            float kth = abs[abs.length - k];
            for (int i = 0; i < v.length; i++) {
                if (v[i] != 0f) {
                    assertEquals(orig[i], v[i]);
                    assertTrue(Math.abs(orig[i]) >= kth);
                } else {
                    assertTrue(Math.abs(orig[i]) <= kth);
                }
            }
        }
    }

    @Test
    void magnitudeWithTiesStillKeepsExactlyK() {
        float[] v = {1, -1, 1, -1, 2, 0, 0, 1};
        Sparsify.magnitude(v, 0.5); // k = 4: the 2 and the first three of the 1s
        assertArrayEquals(new float[] {1, -1, 1, 0, 2, 0, 0, 0}, v);
    }

    @Test
    void densityOneIsIdentity() {
        float[] v = gaussian(50, 2);
        float[] c = v.clone();
        Sparsify.magnitude(c, 1.0);
        Sparsify.bernoulli(c, 1.0, Sparsify.Rescale.DENSITY, 1);
        assertArrayEquals(v, c);
    }

    @Test
    void bernoulliKeptFractionIsCloseToDensityRescaledAndDeterministic() {
        int n = 200_000;
        float[] v = gaussian(n, 3);
        float[] a = v.clone();
        Sparsify.bernoulli(a, 0.3, Sparsify.Rescale.DENSITY, 7);
        double frac = nonzero(a) / (double) n;
        assertEquals(0.3, frac, 0.005);
        for (int i = 0; i < n; i++) {
            if (a[i] != 0f) {
                assertEquals(v[i] * (float) (1 / 0.3), a[i], 1e-6f);
            }
        }
        float[] b = v.clone();
        Sparsify.bernoulli(b, 0.3, Sparsify.Rescale.DENSITY, 7);
        assertArrayEquals(a, b);
        float[] c = v.clone();
        Sparsify.bernoulli(c, 0.3, Sparsify.Rescale.DENSITY, 8);
        assertTrue(!Arrays.equals(a, c));
    }

    @Test
    void bernoulliL1RescaleKeepsTheL1Norm() {
        float[] v = gaussian(10_000, 4);
        double before = 0;
        for (float x : v) {
            before += Math.abs(x);
        }
        Sparsify.bernoulli(v, 0.2, Sparsify.Rescale.L1, 3);
        double after = 0;
        for (float x : v) {
            after += Math.abs(x);
        }
        assertEquals(before, after, before * 1e-4);
    }

    @Test
    void breadcrumbsDropsTopGammaAndBottom() {
        float[] v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        // density 0.5 -> keep 5; gamma 0.2 -> drop the top 2 (10, 9); bottom 10-5-2 = 3 dropped (1, 2, 3)
        Sparsify.magnitudeOutliers(v, 0.5, 0.2, Sparsify.Rescale.NONE);
        assertArrayEquals(new float[] {0, 0, 0, 4, 5, 6, 7, 8, 0, 0}, v);
    }

    @Test
    void seedDependsOnTensorAndInput() {
        assertTrue(Sparsify.seedFor(1, "a", 0) != Sparsify.seedFor(1, "b", 0));
        assertTrue(Sparsify.seedFor(1, "a", 0) != Sparsify.seedFor(1, "a", 1));
        assertEquals(Sparsify.seedFor(1, "a", 0), Sparsify.seedFor(1, "a", 0));
    }
}
