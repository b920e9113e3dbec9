package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.List;
import java.util.Map;

/**
 * NuSLERP (mergekit/merge_methods/nuslerp.py): SLERP of exactly two models with
 * {@code t = w_2 / (w_1 + w_2)} from their per-model {@code weight} ({@code t = 0.5} when
 * {@code |w_1 + w_2| < 1e-6}). With a {@code base_model} (not one of the two) it interpolates the task
 * vectors {@code m_i - base} and adds the base back. Per vector pair {@code v0, v1}:
 * {@code theta = acos(clamp(<v0/max(|v0|, 1e-7), v1/max(|v1|, 1e-7)>, -1, 1))};
 * {@code out = (sin((1-t) theta) v0 + sin(t theta) v1) / sin(theta)}, or the lerp
 * {@code (1-t) v0 + t v1} when {@code |sin(theta)| < 1e-8}. Vectors: the whole tensor
 * ({@code nuslerp_flatten: true}, the default); else the rows (vectors along the last dimension), or
 * with {@code nuslerp_row_wise: true} the vectors along dimension 0 (mergekit transposes dims 0 and -1).
 */
public final class NuSlerpMerge implements MergeMethod {
    @Override
    public String name() {
        return "nuslerp";
    }

    @Override
    public Map<String, Object> parameters() {
        return ParamDecl.of("nuslerp_row_wise", false, "nuslerp_flatten", true);
    }

    @Override
    public Map<String, Object> tensorParameters() {
        return ParamDecl.of("weight", null);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        global.bool("nuslerp_row_wise");
        global.bool("nuslerp_flatten");
        for (Params p : perInput) {
            ParamChecks.finite(p, "weight");
        }
    }

    @Override
    public void validateInputs(int inputs) {
        if (inputs != 2) {
            throw PaftException.usage(
                    "nuslerp needs exactly two models besides an optional base_model, which must not be one of them (got "
                            + inputs + ")");
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
        double w0 = t.perInput().get(0).number("weight");
        double w1 = t.perInput().get(1).number("weight");
        double tt = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
        float[] base = t.base();
        float[] v0 = t.inputs()[0];
        float[] v1 = t.inputs()[1];
        if (base != null) {
            MethodMath.subtract(v0, base);
            MethodMath.subtract(v1, base);
        }
        int n = v0.length;
        MethodMath.Lines lines = t.global().bool("nuslerp_flatten")
                ? MethodMath.Lines.flat(n)
                : t.global().bool("nuslerp_row_wise")
                        ? MethodMath.Lines.firstDim(t.shape(), n)
                        : MethodMath.Lines.lastDim(t.shape(), n);
        for (int v = 0; v < lines.count(); v++) {
            slerpLine(tt, v0, v1, lines.start(v), lines.length(), lines.stride());
        }
        if (base != null) {
            for (int j = 0; j < n; j++) {
                base[j] += v0[j];
            }
            return base;
        }
        return v0;
    }

    /** SLERP of one pair of vectors (elements {@code start + k * stride}), written into {@code v0}. */
    static void slerpLine(double t, float[] v0, float[] v1, int start, int len, int stride) {
        double n0 = 0;
        double n1 = 0;
        double dot = 0;
        int end = start + len * stride;
        for (int j = start; j < end; j += stride) {
            n0 += (double) v0[j] * v0[j];
            n1 += (double) v1[j] * v1[j];
            dot += (double) v0[j] * v1[j];
        }
        if (!Double.isFinite(n0 + n1)) {
            float[] bad = Double.isFinite(n0) ? v1 : v0;
            int j = firstBad(bad, start, end, stride);
            throw new NonFiniteInputException(bad == v0 ? 0 : 1, j, bad[j]);
        }
        double cos = dot / (Math.max(Math.sqrt(n0), 1e-7) * Math.max(Math.sqrt(n1), 1e-7));
        double theta = Math.acos(Math.max(-1, Math.min(1, cos)));
        double sin = Math.sin(theta);
        float a;
        float b;
        float s;
        if (Math.abs(sin) < 1e-8) {
            a = (float) (1 - t);
            b = (float) t;
            s = 1f;
        } else {
            a = (float) Math.sin((1 - t) * theta);
            b = (float) Math.sin(t * theta);
            s = (float) sin;
        }
        for (int j = start; j < end; j += stride) {
            v0[j] = (a * v0[j] + b * v1[j]) / s;
        }
    }

    private static int firstBad(float[] v, int start, int end, int stride) {
        for (int j = start; j < end; j += stride) {
            if (!Float.isFinite(v[j])) {
                return j;
            }
        }
        return start;
    }
}
