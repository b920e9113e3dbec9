package dev.paft.merge;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Sparsifiers of a task vector, as free functions working in place on a flattened tensor.
 *
 * <ul>
 *   <li>{@link #magnitude}: keep the {@code k = int(density * n)} entries of largest |d| over the
 *       whole tensor (TIES trim); ties at the threshold are kept in index order.</li>
 *   <li>{@link #bernoulli}: keep each entry with probability {@code density} (DARE), then rescale.</li>
 *   <li>{@link #magnitudeOutliers}: drop the {@code int(gamma * n)} largest and the
 *       {@code n - int(density * n) - int(gamma * n)} smallest |d| (Model Breadcrumbs).</li>
 * </ul>
 */
public final class Sparsify {
    private Sparsify() {}

    /** How kept entries are rescaled after a random drop. */
    public enum Rescale {
        /** None: {@code d * m}. */
        NONE,
        /** DARE paper, PEFT, mergekit before Feb 2025: {@code d * m / density}. paft's default. */
        DENSITY,
        /** mergekit now: {@code d * m * (||d||_1 / ||d * m||_1)}, keeping the L1 norm. */
        L1
    }

    /** TIES trim: zeroes all but the {@code int(density * n)} largest-magnitude entries; returns how many were kept. */
    public static int magnitude(float[] d, double density) {
        return magnitude(d, density, Rescale.NONE);
    }

    /**
     * TIES trim, then {@code rescale} (mergekit/sparsify.py {@code magnitude}: with
     * {@code rescale: true} the kept entries are scaled to the L1 norm of the whole task vector).
     * Throws {@link NonFiniteInputException} when {@code d} holds NaN or Inf (found by the trim's
     * histogram, no extra pass).
     */
    public static int magnitude(float[] d, double density, Rescale rescale) {
        if (density >= 1) {
            return d.length;
        }
        int k = (int) (density * d.length);
        if (rescale == Rescale.NONE) {
            keepTopK(d, k);
            return k;
        }
        double l1Before = l1(d);
        if (!Double.isFinite(l1Before)) {
            throw NonFiniteInputException.first(d);
        }
        keepTopK(d, k);
        rescale(d, density, rescale, l1Before, l1(d));
        return k;
    }

    private static double l1(float[] d) {
        double s = 0;
        for (float v : d) {
            s += Math.abs(v);
        }
        return s;
    }

    /**
     * Keeps exactly the k entries of largest |d|, zeroing the rest. Finds the k-th largest
     * |d| by a two-level radix select on the 31-bit magnitude bits (monotone in |d|), O(n), in two
     * passes over the tensor: (1) a histogram of the high 16 bits gives the bin holding the k-th
     * magnitude; (2) entries of lower bins are zeroed while the entries of that bin are counted by
     * their low 15 bits and their indices recorded; then only those recorded entries are settled
     * (below the exact threshold: zeroed; at it: the first ones kept in index order).
     */
    static void keepTopK(float[] d, int k) {
        int n = d.length;
        if (k >= n) {
            return;
        }
        if (k <= 0) {
            if (!Floats.allFinite(d, 0, n)) {
                throw NonFiniteInputException.first(d); // zeroing would hide it
            }
            Arrays.fill(d, 0f);
            return;
        }
        // 1. histogram of the high 16 magnitude bits; walk from the top to the bin holding the k-th
        int[] hi = new int[1 << 16];
        for (float v : d) {
            hi[(Float.floatToRawIntBits(v) & 0x7fffffff) >>> 15]++;
        }
        // NaN and Inf have all exponent bits set: the top 256 bins (0x7f800000 >>> 15 = 0xff00)
        for (int b = 0xff00; b < hi.length; b++) {
            if (hi[b] != 0) {
                throw NonFiniteInputException.first(d);
            }
        }
        int above = 0;
        int bin = hi.length - 1;
        while (above + hi[bin] < k) {
            above += hi[bin--];
        }
        int inBin = hi[bin];
        if (inBin > (n >> 3) + 1024) {
            keepTopKInBin(d, k, bin, above); // a crowded bin: no index list (it would be large)
            return;
        }
        // 2. one pass: zero the lower bins (branch-free: (h - bin) >> 31 is -1 exactly when h < bin,
        // and bits & 0 is +0f), histogram the low 15 bits of the bin's entries and note where they are
        int[] lo = new int[1 << 15];
        int[] at = new int[inBin];
        int c = 0;
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToRawIntBits(d[i]);
            int h = (bits & 0x7fffffff) >>> 15;
            if (h == bin) {
                lo[bits & 0x7fff]++;
                at[c++] = i;
            }
            d[i] = Float.intBitsToFloat(bits & ~((h - bin) >> 31));
        }
        int low = lo.length - 1;
        while (above + lo[low] < k) {
            above += lo[low--];
        }
        // 3. the bin's entries, in index order: below the threshold zeroed, at it the first
        // (k - above) kept
        int tiesToKeep = k - above;
        for (int t = 0; t < c; t++) {
            int i = at[t];
            int l = Float.floatToRawIntBits(d[i]) & 0x7fff;
            if (l < low) {
                d[i] = 0f;
            } else if (l == low) {
                if (tiesToKeep > 0) {
                    tiesToKeep--;
                } else {
                    d[i] = 0f;
                }
            }
        }
    }

    /** {@link #keepTopK} given the high bin of the k-th magnitude, with three more full passes. */
    private static void keepTopKInBin(float[] d, int k, int bin, int above) {
        int n = d.length;
        // histogram of the low 15 bits inside that bin
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
        int tiesToKeep = k - above; // entries exactly at the threshold that still fit
        int ties = lo[low];
        // zero everything below the threshold, branch-free (a branch mispredicts on most entries):
        // (m - threshold) >> 31 is -1 exactly when m < threshold, and bits & 0 is +0f
        for (int i = 0; i < n; i++) {
            int bits = Float.floatToRawIntBits(d[i]);
            int m = bits & 0x7fffffff;
            d[i] = Float.intBitsToFloat(bits & ~((m - threshold) >> 31));
        }
        // entries == threshold: keep the first tiesToKeep in index order, zero the rest
        if (ties > tiesToKeep) {
            for (int i = 0; i < n; i++) {
                if ((Float.floatToRawIntBits(d[i]) & 0x7fffffff) == threshold) {
                    if (tiesToKeep > 0) {
                        tiesToKeep--;
                    } else {
                        d[i] = 0f;
                    }
                }
            }
        }
    }

    /** DARE: keeps each entry with probability {@code density} (deterministic for a seed), then rescales. */
    public static void bernoulli(float[] d, double density, Rescale rescale, long seed) {
        if (density >= 1) {
            return;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        double l1Before = 0;
        double l1After = 0;
        for (int i = 0; i < d.length; i++) {
            float v = d[i];
            l1Before += Math.abs(v);
            if (rng.nextDouble() < density) {
                l1After += Math.abs(v);
            } else {
                d[i] = 0f;
            }
        }
        if (!Double.isFinite(l1Before)) {
            // a sum of |finite floats| in double cannot overflow: the input held NaN or Inf
            throw nonFiniteAfterDrop(d);
        }
        rescale(d, density, rescale, l1Before, l1After);
    }

    /** Model Breadcrumbs: keeps the magnitudes between the bottom and top cut; then rescales like DARE. */
    public static void magnitudeOutliers(float[] d, double density, double gamma, Rescale rescale) {
        if (density >= 1) {
            return;
        }
        int n = d.length;
        int target = (int) (density * n);
        int nTop = (int) (gamma * n);
        int nBot = n - target - nTop;
        if (nBot < 0) {
            nBot = 0;
            nTop = n - target;
        }
        double l1Before = l1(d);
        if (!Double.isFinite(l1Before)) {
            throw NonFiniteInputException.first(d); // breadcrumbs would drop a NaN with the top outliers
        }
        // keep top (n - nBot) entries, then drop the top nTop of those: keep = top(n-nBot) minus top(nTop)
        float[] top = d.clone();
        keepTopK(top, nTop); // nonzero where among the top nTop
        keepTopK(d, n - nBot);
        double l1After = 0;
        for (int i = 0; i < n; i++) {
            if (top[i] != 0f) {
                d[i] = 0f;
            }
            l1After += Math.abs(d[i]);
        }
        rescale(d, density, rescale, l1Before, l1After);
    }

    /**
     * DELLA's magnitude-ranked drop (MAGPRUNE; mergekit/sparsify.py {@code della_magprune}): within
     * each row, entries are ranked by |d| ascending ({@code r = 0 .. m-1}, equal magnitudes in index
     * order) and kept with probability {@code p = density - epsilon + 2 epsilon r / (m - 1)}, from
     * {@code density - epsilon} for the smallest to {@code density + epsilon} for the largest; then
     * rescaled over the whole tensor: {@link Rescale#L1} (mergekit's {@code rescale: true}),
     * {@link Rescale#DENSITY} (each kept entry times {@code 1/p}, the DELLA paper's rule) or none.
     * Rows as mergekit's: a 0-d or 1-d tensor is one row; otherwise ranks run along dimension 1 of
     * {@code shape} (the columns of a matrix). A row of one element is kept with probability
     * {@code density} (mergekit's rank normalization divides 0 by 0 there). Deterministic for a seed:
     * each row draws from its own generator, in rank order.
     */
    public static void della(float[] d, long[] shape, double density, double epsilon, Rescale rescale, long seed) {
        if (density >= 1) {
            return;
        }
        double l1Before = l1(d);
        if (!Double.isFinite(l1Before)) {
            throw NonFiniteInputException.first(d);
        }
        int n = d.length;
        int len = shape.length < 2 ? n : (int) shape[1];
        int inner = shape.length < 2 ? 1 : (int) (n / ((long) shape[0] * len));
        int outer = shape.length < 2 ? 1 : (int) shape[0];
        int[][] work = {new int[len], new int[len], new int[len], new int[len]};
        int[] count = new int[RADIX + 1];
        double[] prob = new double[len]; // keep probability by rank
        for (int r = 0; r < len; r++) {
            prob[r] = len == 1 ? density : (density - epsilon) + ((double) r / (len - 1)) * 2 * epsilon;
        }
        double l1After = 0;
        for (int a = 0; a < outer; a++) {
            for (int c = 0; c < inner; c++) {
                int start = a * len * inner + c; // element b of this row: start + b * inner
                int[] order = orderByMagnitude(d, start, inner, len, work, count);
                // one generator per row, its seed mixed (seeds one golden gamma apart would give the
                // same stream shifted by one draw: rows correlated)
                SplittableRandom rng = new SplittableRandom(seedFor(seed, "della-row", a * inner + c));
                for (int r = 0; r < len; r++) {
                    int j = start + order[r] * inner;
                    double p = prob[r];
                    if (rng.nextDouble() < p) {
                        if (rescale == Rescale.DENSITY) {
                            d[j] = (float) (d[j] / p);
                        }
                        l1After += Math.abs(d[j]);
                    } else {
                        d[j] = 0f;
                    }
                }
            }
        }
        if (rescale == Rescale.L1) {
            rescale(d, density, rescale, l1Before, l1After);
        }
    }

    private static final int RADIX_BITS = 11;
    private static final int RADIX = 1 << RADIX_BITS;

    /**
     * The positions {@code 0..len-1} of a row (element b at {@code start + b * stride}) ordered by |d|
     * ascending, equal magnitudes in index order: a stable LSD radix sort of the 31 magnitude bits in
     * three 11-bit digits (a digit all entries share is skipped). Returns one of the {@code work} arrays.
     */
    static int[] orderByMagnitude(float[] d, int start, int stride, int len, int[][] work, int[] count) {
        int[] k = work[0];
        int[] i = work[1];
        int[] k2 = work[2];
        int[] i2 = work[3];
        for (int b = 0; b < len; b++) {
            k[b] = Float.floatToRawIntBits(d[start + b * stride]) & 0x7fffffff;
            i[b] = b;
        }
        for (int shift = 0; shift < 31; shift += RADIX_BITS) {
            Arrays.fill(count, 0);
            for (int r = 0; r < len; r++) {
                count[((k[r] >>> shift) & (RADIX - 1)) + 1]++;
            }
            boolean one = false;
            for (int x = 1; x <= RADIX; x++) {
                if (count[x] == len) {
                    one = true;
                    break;
                }
                count[x] += count[x - 1];
            }
            if (one) {
                continue; // every entry has this digit: the order stays
            }
            for (int r = 0; r < len; r++) {
                int pos = count[(k[r] >>> shift) & (RADIX - 1)]++;
                k2[pos] = k[r];
                i2[pos] = i[r];
            }
            int[] t = k;
            k = k2;
            k2 = t;
            t = i;
            i = i2;
            i2 = t;
        }
        return i;
    }

    static void rescale(float[] d, double density, Rescale rescale, double l1Before, double l1After) {
        float s;
        switch (rescale) {
            case NONE:
                return;
            case DENSITY:
                s = (float) (1.0 / density);
                break;
            case L1:
                // mergekit's rescaled_masked_tensor: no rescale when either norm is below eps = 1e-7
                if (l1Before < 1e-7 || l1After < 1e-7) {
                    return;
                }
                s = (float) (l1Before / l1After);
                break;
            default:
                throw new IllegalStateException();
        }
        for (int i = 0; i < d.length; i++) {
            d[i] *= s;
        }
    }

    /**
     * The first non-finite element left in a task vector {@link #bernoulli} has masked; when the drop
     * removed all of them, the position is unknown (element -1).
     */
    private static NonFiniteInputException nonFiniteAfterDrop(float[] d) {
        for (int j = 0; j < d.length; j++) {
            if (!Float.isFinite(d[j])) {
                return new NonFiniteInputException(-1, j, d[j]);
            }
        }
        return new NonFiniteInputException(-1, -1, Float.NaN);
    }

    /** A per-tensor, per-input seed: {@code seed} mixed with the tensor name's hash and the input index. */
    public static long seedFor(long seed, String tensor, int input) {
        long h = seed * 0x9E3779B97F4A7C15L + tensor.hashCode();
        h = (h ^ (h >>> 31)) * 0xBF58476D1CE4E5B9L + input;
        return h ^ (h >>> 29);
    }
}
