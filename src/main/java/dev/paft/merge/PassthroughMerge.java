package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.List;
import java.util.Map;

/**
 * Passthrough (mergekit/merge_methods/passthrough.py): the one input's tensors as they are, each
 * times its optional per-model {@code scale} (e.g. {@code [{filter: down_proj, value: 0.5}, {value: 1}]}).
 * mergekit's default is no scale; here the default 1.0 gives the same values (x * 1 == x). A
 * {@code base_model} counts as an input, as in mergekit's planner, so it must be the one model.
 */
public final class PassthroughMerge implements MergeMethod {
    @Override
    public String name() {
        return "passthrough";
    }

    @Override
    public Map<String, Object> tensorParameters() {
        return ParamDecl.of("scale", 1.0);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        for (Params p : perInput) {
            ParamChecks.finite(p, "scale");
        }
    }

    @Override
    public boolean baseIsAnInput() {
        return true;
    }

    @Override
    public void validateInputs(int inputs) {
        if (inputs != 1) {
            throw PaftException.usage("passthrough takes exactly one model (got " + inputs
                    + "; a base_model counts as one, as in mergekit: leave it out or make it the one model)");
        }
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
    public float[] merge(MergeTensor t) {
        float[] x = t.inputs()[0];
        float s = (float) t.perInput().get(0).number("scale");
        if (s != 1f) {
            for (int j = 0; j < x.length; j++) {
                x[j] *= s;
            }
        }
        return x;
    }
}
