package dev.paft.merge;

import java.util.List;
import java.util.Map;

/**
 * NearSwap (mergekit/merge_methods/nearswap.py): the base {@code a} pulled towards the other model
 * {@code b} where they are already close, element by element:
 * {@code w = clamp(t / max(|a - b|, 1e-6), 0, 1)}, {@code out = w b + (1 - w) a}. Exactly one model
 * besides the base; {@code t} (global, required) sets the distance below which b is taken whole.
 */
public final class NearSwapMerge implements MergeMethod {
    @Override
    public String name() {
        return "nearswap";
    }

    @Override
    public Map<String, Object> parameters() {
        return ParamDecl.of("t", null);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        ParamChecks.finite(global, "t");
    }

    @Override
    public void validateInputs(int inputs) {
        ParamChecks.baseAndOne("nearswap", inputs);
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
        float[] a = t.base();
        float[] b = t.inputs()[0];
        MethodMath.requireFinite(a, -1);
        MethodMath.requireFinite(b, 0);
        float tt = (float) t.global().number("t");
        for (int j = 0; j < a.length; j++) {
            float w = Math.min(Math.max(tt / Math.max(Math.abs(a[j] - b[j]), 1e-6f), 0f), 1f);
            a[j] = w * b[j] + (1 - w) * a[j];
        }
        return a;
    }
}
