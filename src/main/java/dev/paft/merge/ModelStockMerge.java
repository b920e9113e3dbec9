package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Model Stock (mergekit/merge_methods/model_stock.py): with the base {@code w0} and N >= 2 fine-tunes
 * {@code w_i}, the offsets {@code o_i = w_i - w0}; {@code cos} is the mean over the pairs i < k of
 * {@code clamp(<o_i, o_k> / max(|o_i| |o_k|, 1e-6), -1, 1)}, {@code t = N cos / (1 + (N - 1) cos)},
 * and {@code out = t * (sum_i w_i) / N + (1 - t) * w0}. Over the whole tensor, or with
 * {@code filter_wise: true} per row (the last dimension; a vector is one row). No weights.
 */
public final class ModelStockMerge implements MergeMethod {
    @Override
    public String name() {
        return "model_stock";
    }

    @Override
    public Map<String, Object> parameters() {
        return ParamDecl.of("filter_wise", false);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        global.bool("filter_wise");
    }

    @Override
    public void validateInputs(int inputs) {
        if (inputs < 2) {
            throw PaftException.usage(
                    "model_stock needs at least two models besides the base model (got " + inputs + ")");
        }
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
    public float[] merge(MergeTensor t) {
        float[] w0 = t.base();
        float[][] ws = t.inputs();
        int n = ws.length;
        MethodMath.Lines lines = t.global().bool("filter_wise")
                ? MethodMath.Lines.lastDim(t.shape(), w0.length)
                : MethodMath.Lines.flat(w0.length);
        double[][] gram = new double[n][n];
        float[] o = new float[n];
        for (int v = 0; v < lines.count(); v++) {
            int start = lines.start(v);
            int end = start + lines.length();
            for (double[] g : gram) {
                Arrays.fill(g, 0);
            }
            // 1. the Gram matrix of the offsets o_i = w_i - w0 (float32 differences, double sums)
            for (int j = start; j < end; j++) {
                for (int i = 0; i < n; i++) {
                    o[i] = ws[i][j] - w0[j];
                }
                for (int i = 0; i < n; i++) {
                    for (int k = i; k < n; k++) {
                        gram[i][k] += (double) o[i] * o[k];
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                if (!Double.isFinite(gram[i][i])) {
                    MethodMath.requireFinite(w0, -1);
                    MethodMath.requireFinite(ws[i], i);
                }
            }
            // 2. the mean pairwise cosine, the interpolation factor
            double cos = 0;
            int pairs = 0;
            for (int i = 0; i < n; i++) {
                for (int k = i + 1; k < n; k++) {
                    double c = gram[i][k] / Math.max(Math.sqrt(gram[i][i]) * Math.sqrt(gram[k][k]), 1e-6);
                    cos += Math.max(-1, Math.min(1, c));
                    pairs++;
                }
            }
            cos /= pairs;
            float ft = (float) (n * cos / (1 + (n - 1) * cos));
            float fn = n;
            // 3. t * mean(w_i) + (1 - t) * w0, in mergekit's float32 order
            for (int j = start; j < end; j++) {
                float sum = 0f;
                for (int i = 0; i < n; i++) {
                    sum += ws[i][j];
                }
                w0[j] = ft * (sum / fn) + (1 - ft) * w0[j];
            }
        }
        return w0;
    }
}
