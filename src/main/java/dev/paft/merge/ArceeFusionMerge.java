package dev.paft.merge;

import java.util.List;

/**
 * Arcee Fusion (mergekit/merge_methods/arcee_fusion.py): the base {@code b} takes the other model's
 * {@code m} change only where it is important. Per row (the last dimension; a vector is one row):
 * {@code p = softmax(m) + 1e-8}, {@code q = softmax(b) + 1e-8}, {@code kl = sum p log(p / q)}; the
 * importance of each element is {@code |m - b| * kl} of its row. Over the whole tensor, with
 * {@code s} the importances sorted ascending, {@code Q(x) = s[int(x (N - 1))]}, the threshold is
 * {@code Q(0.5) + 1.5 (Q(0.75) - Q(0.25))}; {@code out = b + (m - b) [importance >= threshold]}.
 * Exactly one model besides the base; no parameters. Quantiles are exact at every size (mergekit
 * sorts a random sample of 1e6 entries for larger tensors, so its result there is random).
 */
public final class ArceeFusionMerge implements MergeMethod {
    @Override
    public String name() {
        return "arcee_fusion";
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        // no parameters
    }

    @Override
    public void validateInputs(int inputs) {
        ParamChecks.baseAndOne("arcee_fusion", inputs);
    }

    @Override
    public boolean usesDeltas() {
        return false;
    }

    @Override
    public boolean needsBase() {
        return true;
    }

    @Override
    public int scratchArrays() {
        return 1;
    }

    @Override
    public float[] merge(MergeTensor t) {
        float[] b = t.base();
        float[] m = t.inputs()[0];
        MethodMath.requireFinite(b, -1);
        MethodMath.requireFinite(m, 0);
        int n = b.length;
        float[] imp = t.scratch().apply(n);
        MethodMath.Lines rows = MethodMath.Lines.lastDim(t.shape(), n);
        for (int r = 0; r < rows.count(); r++) {
            int start = rows.start(r);
            int end = start + rows.length();
            float kl = (float) klOfSoftmaxes(m, b, start, end);
            for (int j = start; j < end; j++) {
                imp[j] = Math.abs(m[j] - b[j]) * kl;
            }
        }
        float median = kth(imp, (int) (0.5 * (n - 1)));
        float q1 = kth(imp, (int) (0.25 * (n - 1)));
        float q3 = kth(imp, (int) (0.75 * (n - 1)));
        float threshold = median + 1.5f * (q3 - q1);
        for (int j = 0; j < n; j++) {
            if (imp[j] >= threshold) {
                b[j] += m[j] - b[j];
            }
        }
        return b;
    }

    /** {@code sum p log(p / q)}, p and q the softmaxes of {@code m} and {@code b} over [start, end), each + 1e-8. */
    static double klOfSoftmaxes(float[] m, float[] b, int start, int end) {
        int len = end - start;
        double mm = Double.NEGATIVE_INFINITY;
        double mb = Double.NEGATIVE_INFINITY;
        for (int j = start; j < end; j++) {
            mm = Math.max(mm, m[j]);
            mb = Math.max(mb, b[j]);
        }
        double[] em = new double[len]; // each exp once (they dominate the cost)
        double[] eb = new double[len];
        double zm = 0;
        double zb = 0;
        for (int k = 0; k < len; k++) {
            em[k] = Math.exp(m[start + k] - mm);
            eb[k] = Math.exp(b[start + k] - mb);
            zm += em[k];
            zb += eb[k];
        }
        double kl = 0;
        for (int k = 0; k < len; k++) {
            double p = em[k] / zm + 1e-8;
            double q = eb[k] / zb + 1e-8;
            kl += p * Math.log(p / q);
        }
        return kl;
    }

    /**
     * The k-th smallest value (0-based) of {@code v}, which is left unchanged: a two-level radix select
     * on order-preserving integer keys (16 high bits, then the 16 low bits inside that bin), two passes.
     */
    static float kth(float[] v, int k) {
        int[] hi = new int[1 << 16];
        for (float x : v) {
            hi[key(x) >>> 16]++;
        }
        int bin = 0;
        int below = 0;
        while (below + hi[bin] <= k) {
            below += hi[bin++];
        }
        int[] lo = new int[1 << 16];
        for (float x : v) {
            int kx = key(x);
            if (kx >>> 16 == bin) {
                lo[kx & 0xffff]++;
            }
        }
        int low = 0;
        while (below + lo[low] <= k) {
            below += lo[low++];
        }
        int kk = (bin << 16 | low) ^ 0x80000000; // back to the signed-order key
        int bits = kk >= 0 ? kk : kk ^ 0x7fffffff;
        return Float.intBitsToFloat(bits);
    }

    /** An unsigned-order key of a float: a < b as floats implies key(a) < key(b) as unsigned ints. */
    private static int key(float x) {
        int bits = Float.floatToRawIntBits(x);
        return (bits ^ ((bits >> 31) & 0x7fffffff)) ^ 0x80000000;
    }
}
