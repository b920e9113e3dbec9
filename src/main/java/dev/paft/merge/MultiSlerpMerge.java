package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.List;
import java.util.Map;

/**
 * Multi-SLERP (mergekit/merge_methods/multislerp.py): barycentric interpolation on the hypersphere of
 * any number of flattened tensors {@code x_i} (the task vectors {@code m_i - base} when a
 * {@code base_model} is given, the base added back at the end). With weights {@code w_i} (divided by
 * their sum when {@code normalize_weights}), norms {@code n_i = |x_i|} and
 * {@code u_i = x_i / (n_i + eps)}: the mean {@code m = sum_i w_i u_i}, normalized; the tangent
 * vectors {@code u_i - <u_i, m> m} and their weighted sum {@code g}; the exponential map back,
 * {@code r = m cos|g|' + g sin|g|' / |g|'} with {@code |g|' = |g| + eps}; the result
 * {@code r * sum_i w_i n_i}. When {@code |sum_i w_i u_i| < eps}: two inputs fall back to
 * {@code w_1 x_1 + w_2 x_2}; more exit 2 (the weighted directions cancel). One input is returned as it is.
 */
public final class MultiSlerpMerge implements MergeMethod {
    @Override
    public String name() {
        return "multislerp";
    }

    @Override
    public Map<String, Object> parameters() {
        return ParamDecl.of("normalize_weights", true, "eps", 1e-8);
    }

    @Override
    public Map<String, Object> tensorParameters() {
        return ParamDecl.of("weight", null);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        global.bool("normalize_weights");
        MethodMath.nonNegative(global, "eps");
        double sum = 0;
        for (Params p : perInput) {
            sum += ParamChecks.finite(p, "weight");
        }
        if (global.bool("normalize_weights") && perInput.size() > 1 && sum == 0) {
            throw PaftException.usage(
                    "multislerp with normalize_weights: the weights of " + global.where() + " sum to 0");
        }
    }

    @Override
    public void validateInputs(int inputs) {
        if (inputs < 1) {
            throw PaftException.usage("multislerp needs at least one model besides an optional base_model");
        }
    }

    @Override
    public boolean usesDeltas() {
        return false; // task vectors only when a base is given: computed here
    }

    @Override
    public boolean needsBase() {
        return false;
    }

    @Override
    public float[] merge(MergeTensor t) {
        float[][] x = t.inputs();
        int n = x.length;
        if (n == 1) {
            return x[0]; // mergekit returns the one input untouched (before any base subtraction)
        }
        float[] base = t.base();
        int len = x[0].length;
        if (base != null) {
            for (float[] v : x) {
                MethodMath.subtract(v, base);
            }
        }
        float[] w = new float[n];
        float wsum = 0f;
        for (int i = 0; i < n; i++) {
            w[i] = (float) t.perInput().get(i).number("weight");
            wsum += w[i];
        }
        if (t.global().bool("normalize_weights")) {
            for (int i = 0; i < n; i++) {
                w[i] /= wsum;
            }
        }
        float eps = (float) t.global().number("eps");
        // 1. norms; the unit vectors u_i = x_i / (n_i + eps) in place (float32 quotients)
        double[] norms = new double[n];
        float[] div = new float[n];
        for (int i = 0; i < n; i++) {
            norms[i] = Math.sqrt(MethodMath.sumSquares(x[i], i));
            div[i] = (float) norms[i] + eps;
            float[] xi = x[i];
            float di = div[i];
            for (int j = 0; j < len; j++) {
                xi[j] /= di;
            }
        }
        // 2. the weighted mean of the unit vectors (not stored: recomputed where used, the same floats)
        double mn = 0;
        for (int j = 0; j < len; j++) {
            float m = mean(x, w, j);
            mn += (double) m * m;
        }
        mn = Math.sqrt(mn);
        if (mn < eps) {
            if (n == 2) {
                // mergekit's fallback: linear interpolation of the (task-vector) inputs, here u_i (n_i + eps)
                // (x_i within an ulp)
                for (int j = 0; j < len; j++) {
                    float r = x[0][j] * div[0] * w[0] + x[1][j] * div[1] * w[1];
                    x[0][j] = base != null ? r + base[j] : r;
                }
                return x[0];
            }
            throw PaftException.usage(
                    "multislerp: tensor '" + t.name() + "': the weighted sum of the inputs' directions is zero "
                            + "(antipodal inputs with balancing weights); use other weights");
        }
        float fmn = (float) mn;
        // 3. tangent vectors at the normalized mean m/|m|, their weighted sum g and its norm
        float[] fd = new float[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < len; j++) {
                s += (double) x[i][j] * (mean(x, w, j) / fmn);
            }
            fd[i] = (float) s;
        }
        double gn = 0;
        for (int j = 0; j < len; j++) {
            float g = tangent(x, w, fd, mean(x, w, j) / fmn, j);
            gn += (double) g * g;
        }
        // 4. back to the sphere, scaled by the weighted mean norm
        double tn = Math.sqrt(gn) + eps;
        float c = (float) Math.cos(tn);
        float sc = (float) (Math.sin(tn) / tn);
        double avg = 0;
        for (int i = 0; i < n; i++) {
            avg += norms[i] * w[i];
        }
        float favg = (float) avg;
        for (int j = 0; j < len; j++) {
            float mh = mean(x, w, j) / fmn;
            float g = tangent(x, w, fd, mh, j);
            float r = (mh * c + g * sc) * favg;
            x[0][j] = base != null ? r + base[j] : r; // x[0][j] is not read again
        }
        return x[0];
    }

    /** {@code sum_i w_i u_i[j]} ({@code x} holds the units). */
    private static float mean(float[][] x, float[] w, int j) {
        float s = 0f;
        for (int i = 0; i < x.length; i++) {
            s += x[i][j] * w[i];
        }
        return s;
    }

    /** {@code sum_i w_i (u_i[j] - <u_i, m> m[j])}. */
    private static float tangent(float[][] x, float[] w, float[] dots, float mh, int j) {
        float g = 0f;
        for (int i = 0; i < x.length; i++) {
            g += (x[i][j] - dots[i] * mh) * w[i];
        }
        return g;
    }
}
