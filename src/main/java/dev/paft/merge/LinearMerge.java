package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.List;
import java.util.Map;

/**
 * Linear (model soup): {@code out = sum_i w_i m_i}, divided by {@code sum_i w_i} when
 * {@code normalize} (default true). Inputs are whole models (an adapter input is base + its delta).
 * A {@code base_model} that is not listed under {@code models} is one more input, weighted by the
 * global {@code parameters.weight}, as mergekit's planner adds it (mergekit/plan.py,
 * {@code normalize_config}; mergekit/merge_methods/linear.py).
 */
public final class LinearMerge implements MergeMethod {
    @Override
    public String name() {
        return "linear";
    }

    @Override
    public Map<String, Object> parameters() {
        return ParamDecl.of("normalize", true);
    }

    @Override
    public Map<String, Object> tensorParameters() {
        return ParamDecl.of("weight", null);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        boolean normalize = global.bool("normalize");
        double sum = 0;
        for (Params p : perInput) {
            sum += ParamChecks.finite(p, "weight");
        }
        if (normalize && Math.abs(sum) < 1e-12) {
            throw PaftException.usage("linear with normalize: the weights of " + global.where() + " sum to 0");
        }
    }

    @Override
    public boolean baseIsAnInput() {
        return true;
    }

    @Override
    public boolean usesDeltas() {
        return false;
    }

    @Override
    public boolean needsBase() {
        return false;
    }

    @Override
    public void validateInputs(int inputs) {
        if (inputs < 1) {
            throw PaftException.usage("linear needs at least one model");
        }
    }

    @Override
    public float[] merge(MergeTensor t) {
        float[] w = new float[t.inputs().length];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) t.perInput().get(i).number("weight");
        }
        return linear(t.inputs(), w, t.global().bool("normalize"));
    }

    /** {@code sum_i w_i m_i (/ sum_i w_i)}, written into {@code m[0]}. */
    public static float[] linear(float[][] m, float[] w, boolean normalize) {
        float sum = 0f;
        for (float x : w) {
            sum += x;
        }
        float[] out = m[0];
        for (int j = 0; j < out.length; j++) {
            float acc = 0f;
            for (int i = 0; i < m.length; i++) {
                acc += w[i] * m[i][j];
            }
            out[j] = normalize ? acc / sum : acc;
        }
        return out;
    }
}
