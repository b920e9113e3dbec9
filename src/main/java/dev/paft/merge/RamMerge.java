package dev.paft.merge;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reinforced Agent Merging (mergekit/merge_methods/ram.py: {@code ram} and {@code ramplus_tl}).
 * Per element of the task vectors {@code d_i}: input i is active where {@code |d_i| > epsilon};
 * with {@code c} active inputs, an element with {@code c = 1} takes that input's value ("unique"),
 * one with {@code c > 1} the mean of the active values ({@code sum d_i / c}, "shared"), one with
 * {@code c = 0} stays the base. {@code ramplus_tl} scales each input's unique values by
 * {@code lambda_i = 1 + r * clamp(rho_i, 0, alpha)}, {@code rho_i = shared_i / max(unique_i, epsilon)},
 * counting input i's active elements that are shared and unique in this tensor (tensor-local).
 * No weights. Parameters (global): epsilon (1e-5); ramplus_tl also r (0.1) and alpha (0.2).
 */
public final class RamMerge implements MergeMethod {
    private final boolean plus;

    public RamMerge(boolean plus) {
        this.plus = plus;
    }

    @Override
    public String name() {
        return plus ? "ramplus_tl" : "ram";
    }

    @Override
    public Map<String, Object> parameters() {
        return plus ? ParamDecl.of("r", 0.1, "alpha", 0.2, "epsilon", 1e-5) : ParamDecl.of("epsilon", 1e-5);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        MethodMath.nonNegative(global, "epsilon");
        if (plus) {
            ParamChecks.finite(global, "r");
            ParamChecks.finite(global, "alpha");
        }
    }

    @Override
    public void validateInputs(int inputs) {
        ParamChecks.atLeastOneBesideBase(name(), inputs);
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
    public float[] merge(MergeTensor t) {
        float[][] d = t.inputs();
        float[] base = t.base();
        int n = d.length;
        float eps = (float) t.global().number("epsilon");
        for (int i = 0; i < n; i++) {
            MethodMath.requireFinite(d[i], i); // |NaN| > epsilon is false: it would be dropped silently
        }
        float[] lambda = new float[n];
        Arrays.fill(lambda, 1f);
        if (plus) {
            // per input: how many of its active elements are shared, how many unique
            long[] shared = new long[n];
            long[] unique = new long[n];
            for (int j = 0; j < base.length; j++) {
                int c = 0;
                for (int i = 0; i < n; i++) {
                    if (Math.abs(d[i][j]) > eps) {
                        c++;
                    }
                }
                if (c == 0) {
                    continue;
                }
                for (int i = 0; i < n; i++) {
                    if (Math.abs(d[i][j]) > eps) {
                        if (c == 1) {
                            unique[i]++;
                        } else {
                            shared[i]++;
                        }
                    }
                }
            }
            float r = (float) t.global().number("r");
            float alpha = (float) t.global().number("alpha");
            for (int i = 0; i < n; i++) {
                float rho = (float) shared[i] / Math.max((float) unique[i], eps);
                lambda[i] = 1f + r * Math.min(Math.max(rho, 0f), alpha);
            }
        }
        for (int j = 0; j < base.length; j++) {
            int c = 0;
            int last = -1;
            for (int i = 0; i < n; i++) {
                if (Math.abs(d[i][j]) > eps) {
                    c++;
                    last = i;
                }
            }
            if (c == 1) {
                base[j] += d[last][j] * lambda[last];
            } else if (c > 1) {
                float fc = c;
                float sum = 0f;
                for (int i = 0; i < n; i++) {
                    if (Math.abs(d[i][j]) > eps) {
                        sum += d[i][j] / fc;
                    }
                }
                base[j] += sum;
            }
        }
        return base;
    }
}
