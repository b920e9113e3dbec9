package dev.paft.merge;

import java.util.List;
import java.util.Map;

/**
 * Spherical linear interpolation between the base ({@code t = 0}) and one other model
 * ({@code t = 1}), on the flattened tensors:
 * {@code theta = acos(dot(v0/|v0|, v1/|v1|))},
 * {@code out = sin((1-t) theta)/sin(theta) v0 + sin(t theta)/sin(theta) v1}; when
 * {@code |dot| > 0.9995} the vectors are nearly colinear and it falls back to
 * {@code lerp = (1-t) v0 + t v1}.
 */
public final class SlerpMerge implements MergeMethod {
    public static final double DOT_THRESHOLD = 0.9995;
    private static final double EPS = 1e-8;

    @Override
    public String name() {
        return "slerp";
    }

    @Override
    public Map<String, Object> parameters() {
        return ParamDecl.of("t", null);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        ParamChecks.unit(global, "t");
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
    public void validateInputs(int inputs) {
        ParamChecks.baseAndOne("slerp", inputs);
    }

    @Override
    public float[] merge(MergeTensor t) {
        return slerp(t.global().number("t"), t.base(), t.inputs()[0]);
    }

    /** SLERP of two flattened tensors, written into {@code v0}. */
    public static float[] slerp(double t, float[] v0, float[] v1) {
        // 1. norms and the cosine of the angle between the normalized copies
        double n0 = 0;
        double n1 = 0;
        double dot = 0;
        for (int j = 0; j < v0.length; j++) {
            n0 += (double) v0[j] * v0[j];
            n1 += (double) v1[j] * v1[j];
            dot += (double) v0[j] * v1[j];
        }
        n0 = Math.sqrt(n0);
        n1 = Math.sqrt(n1);
        dot /= (n0 > EPS ? n0 : 1) * (n1 > EPS ? n1 : 1);
        double s0;
        double s1;
        if (Math.abs(dot) > DOT_THRESHOLD) {
            // 2a. nearly colinear: plain lerp of the originals
            s0 = 1 - t;
            s1 = t;
        } else {
            // 2b. slerp weights
            double theta0 = Math.acos(dot);
            double sinTheta0 = Math.sin(theta0);
            double thetaT = theta0 * t;
            s0 = Math.sin(theta0 - thetaT) / sinTheta0;
            s1 = Math.sin(thetaT) / sinTheta0;
        }
        float f0 = (float) s0;
        float f1 = (float) s1;
        for (int j = 0; j < v0.length; j++) {
            v0[j] = f0 * v0[j] + f1 * v1[j];
        }
        return v0;
    }
}
