package dev.paft.eval;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picking the next token from one row of last-position logits, in Java: greedy
 * {@code argmax_v z_v}, or sampling from {@code softmax(z / T)} restricted to the nucleus, the
 * fewest most-probable tokens whose mass reaches {@code top_p} (HF's {@code TopPLogitsWarper}: a token
 * is kept while the mass before it is below {@code top_p}; at least one is kept).
 */
public final class Sampling {
    private Sampling() {}

    /** Index of the largest logit, the first on ties. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /** {@code softmax(z / T)} in double precision. */
    public static double[] softmax(float[] logits, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float z : logits) {
            max = Math.max(max, z);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /**
     * Token ids of the nucleus, most probable first: tokens are kept while the mass of those before
     * them is below {@code topP}.
     */
    public static int[] nucleus(double[] probs, double topP) {
        // sort by probability, descending: pack (float bits of p, id) into longs (p >= 0 sorts as its bits)
        long[] keyed = new long[probs.length];
        for (int i = 0; i < probs.length; i++) {
            keyed[i] = ((long) Float.floatToIntBits((float) probs[i]) << 32) | (Integer.MAX_VALUE - i);
        }
        Arrays.sort(keyed);
        int[] kept = new int[probs.length];
        int n = 0;
        double before = 0;
        for (int j = keyed.length - 1; j >= 0 && (n == 0 || before < topP); j--) {
            int id = Integer.MAX_VALUE - (int) (keyed[j] & 0xffffffffL);
            kept[n++] = id;
            before += probs[id];
        }
        return Arrays.copyOf(kept, n);
    }

    /**
     * The next token: greedy when {@code temperature <= 0}, else a draw from the (nucleus-restricted,
     * renormalized) {@code softmax(z / T)} with one {@code rng.nextDouble()}.
     */
    public static int next(float[] logits, double temperature, double topP, SplittableRandom rng) {
        if (temperature <= 0) {
            return argmax(logits);
        }
        double[] p = softmax(logits, temperature);
        int[] ids = topP < 1 ? nucleus(p, topP) : null;
        double mass = 0;
        int n = ids == null ? p.length : ids.length;
        for (int j = 0; j < n; j++) {
            mass += p[ids == null ? j : ids[j]];
        }
        double u = rng.nextDouble() * mass;
        double cum = 0;
        for (int j = 0; j < n; j++) {
            int id = ids == null ? j : ids[j];
            cum += p[id];
            if (u < cum) {
                return id;
            }
        }
        // rounding left u at the very top: the last token with any mass
        for (int j = n - 1; j >= 0; j--) {
            int id = ids == null ? j : ids[j];
            if (p[id] > 0) {
                return id;
            }
        }
        return argmax(logits);
    }
}
