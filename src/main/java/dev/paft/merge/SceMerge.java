package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * SCE, select / calculate / erase (mergekit/merge_methods/sce.py), on the task vectors
 * {@code d_i = m_i - base} of one tensor:
 * <ol>
 *   <li>select: when {@code select_topk < 1}, the population variance over the inputs of each
 *       element, {@code var_j}; with {@code z} elements of nonzero variance, the
 *       {@code k = int(z * select_topk)} of largest variance are kept in every task vector (equal
 *       variances in index order), the others zeroed (all when {@code k = 0});</li>
 *   <li>calculate: one weight per input, {@code w_i = mean_j(d_ij^2)}, divided by their sum
 *       (equal weights {@code 1/n} when the sum is below 1e-6);</li>
 *   <li>erase: TIES's sign election by sum ({@code sign(sum_i d_ij)}, 0 as +); an entry agrees
 *       when its sign equals the elected one (zeros never agree).</li>
 * </ol>
 * {@code out_j = base_j + sum_i(d_ij w_i agree_ij) / max(sum_i(w_i agree_ij), 1e-6)}. Global
 * parameters: select_topk (1.0) and int8_mask (accepted; masks are boolean tests here). No
 * per-model weights (mergekit's sce has none).
 */
public final class SceMerge implements MergeMethod {
    @Override
    public String name() {
        return "sce";
    }

    @Override
    public Map<String, Object> parameters() {
        return ParamDecl.of("int8_mask", false, "select_topk", 1.0);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        global.bool("int8_mask");
        double k = global.number("select_topk");
        if (!(k > 0 && k <= 1)) {
            throw PaftException.usage(global.where() + ": select_topk must be in (0, 1] (got " + k + ")");
        }
    }

    @Override
    public void validateInputs(int inputs) {
        ParamChecks.atLeastOneBesideBase("sce", inputs);
    }

    @Override
    public boolean usesDeltas() {
        return true;
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
        float[][] d = t.inputs();
        float[] base = t.base();
        int n = d.length;
        int len = base.length;
        double topk = t.global().number("select_topk");
        if (topk < 1) {
            select(d, topk, t.scratch().apply(len));
        }
        // calculate: w_i = mean(d_i^2) / sum (also the finite check of every input)
        double[] w = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            w[i] = MethodMath.sumSquares(d[i], i) / len;
            sum += w[i];
        }
        float[] fw = new float[n];
        for (int i = 0; i < n; i++) {
            fw[i] = (float) (Math.abs(sum) < 1e-6 ? 1.0 / n : w[i] / sum);
        }
        // erase (sum election) and the weighted mean of the agreeing entries, in blocks
        eraseAndMix(base, d, fw, 0, len);
        return base;
    }

    /**
     * {@code base[j] += sum_i(d_ij w_i agree_ij) / max(sum_i(w_i agree_ij), 1e-6)} with the elected sign
     * {@code sign(sum_i d_ij)} (0 as +), in blocks of {@link TaskArithmeticMerge#BLOCK} copied into
     * scratch rows so that every loop indexes its arrays alike (C2 vectorizes them; see merging.md,
     * Speed): the float operations of {@link #eraseAndMixReference}, in its order (test
     * FastPathEquivalenceTest-style check in MoreMethodsTest).
     */
    static void eraseAndMix(float[] base, float[][] d, float[] w, int from, int to) {
        int n = d.length;
        int bs = TaskArithmeticMerge.BLOCK;
        float[][] blk = new float[n][bs];
        float[] vote = new float[bs];
        float[] merged = new float[bs];
        float[] divisor = new float[bs];
        float[] out = new float[bs];
        for (int lo = from; lo < to; lo += bs) {
            int m = Math.min(bs, to - lo);
            for (int i = 0; i < n; i++) {
                System.arraycopy(d[i], lo, blk[i], 0, m);
            }
            System.arraycopy(base, lo, out, 0, m);
            Arrays.fill(vote, 0, m, 0f);
            Arrays.fill(merged, 0, m, 0f);
            Arrays.fill(divisor, 0, m, 0f);
            for (int i = 0; i < n; i++) {
                float[] b = blk[i];
                for (int k = 0; k < m; k++) {
                    vote[k] += b[k];
                }
            }
            // elected = vote >= 0 ? 1 : -1, as arithmetic (exact for every non-NaN vote)
            for (int k = 0; k < m; k++) {
                vote[k] = 1f - 2f * Math.min(Math.max(-vote[k], 0f) * 0x1p126f * 0x1p126f, 1f);
            }
            for (int i = 0; i < n; i++) {
                float[] b = blk[i];
                float wi = w[i];
                for (int k = 0; k < m; k++) {
                    // f = |d| where sign(d) == elected (zeros never agree), else 0; f e == d exactly
                    float e = vote[k];
                    float f = Math.max(b[k] * e, 0f);
                    merged[k] += (f * e) * wi;
                    divisor[k] += Math.min(f * 0x1p126f * 0x1p126f, 1f) * wi;
                }
            }
            for (int k = 0; k < m; k++) {
                out[k] += merged[k] / Math.max(divisor[k], 1e-6f);
            }
            System.arraycopy(out, 0, base, lo, m);
        }
    }

    /** {@link #eraseAndMix} element by element (the definition). */
    static void eraseAndMixReference(float[] base, float[][] d, float[] w, int from, int to) {
        for (int j = from; j < to; j++) {
            float vote = 0f;
            for (float[] x : d) {
                vote += x[j];
            }
            float elected = vote >= 0f ? 1f : -1f;
            float merged = 0f;
            float divisor = 0f;
            for (int i = 0; i < d.length; i++) {
                float x = d[i][j];
                if (Math.signum(x) == elected) {
                    merged += x * w[i];
                    divisor += w[i];
                }
            }
            base[j] += merged / Math.max(divisor, 1e-6f);
        }
    }

    /** Keeps the positions of the k largest variances over the inputs in every task vector, zeroes the rest. */
    static void select(float[][] d, double topk, float[] var) {
        int n = d.length;
        int len = var.length;
        int nonzero = 0;
        for (int j = 0; j < len; j++) {
            double mean = 0;
            for (int i = 0; i < n; i++) {
                mean += d[i][j];
            }
            mean /= n;
            double v = 0;
            for (int i = 0; i < n; i++) {
                double x = d[i][j] - mean;
                v += x * x;
            }
            var[j] = (float) (v / n);
            if (var[j] != 0f) {
                nonzero++;
            }
        }
        if (!Floats.allFinite(var, 0, len)) {
            for (int i = 0; i < n; i++) {
                MethodMath.requireFinite(d[i], i);
            }
        }
        // mergekit: int(count_nonzero(var) * select_topk), a float32 product
        int k = (int) ((float) nonzero * (float) topk);
        if (k <= 0) {
            for (float[] x : d) {
                Arrays.fill(x, 0f);
            }
            return;
        }
        Sparsify.keepTopK(var, k); // k <= nonzero: every kept variance is > 0
        for (int j = 0; j < len; j++) {
            if (var[j] == 0f) {
                for (int i = 0; i < n; i++) {
                    d[i][j] = 0f;
                }
            }
        }
    }
}
