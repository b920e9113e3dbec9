package dev.paft.merge;

import dev.paft.errors.PaftException;

/**
 * Checks of resolved parameter values and of input counts that several methods share; each fails with
 * exit 2 naming where (or the method).
 */
final class ParamChecks {
    private ParamChecks() {}

    /** Methods of one base and exactly one other model (slerp, nearswap, arcee_fusion). */
    static void baseAndOne(String method, int inputs) {
        if (inputs != 1) {
            throw PaftException.usage(
                    method + " needs exactly two models: the base and one other (got the base and " + inputs + ")");
        }
    }

    /** Methods of a base and at least one more input (the task-arithmetic family, sce, ram). */
    static void atLeastOneBesideBase(String method, int inputs) {
        if (inputs < 1) {
            throw PaftException.usage(method + " needs at least one input besides the base model");
        }
    }

    static double finite(Params p, String k) {
        double v = p.number(k);
        if (!Double.isFinite(v)) {
            throw PaftException.usage(p.where() + ": " + k + " must be finite (got " + v + ")");
        }
        return v;
    }

    /** density in (0, 1]. */
    static void density(Params p) {
        double d = p.number("density");
        if (!(d > 0 && d <= 1)) {
            throw PaftException.usage(p.where() + ": density must be in (0, 1] (got " + d + ")");
        }
    }

    /** gamma in [0, 1). */
    static void gamma(Params p) {
        double gm = p.number("gamma");
        if (!(gm >= 0 && gm < 1)) {
            throw PaftException.usage(p.where() + ": gamma must be in [0, 1) (got " + gm + ")");
        }
    }

    /** An interpolation factor in [0, 1]. */
    static void unit(Params p, String k) {
        double t = p.number(k);
        if (!(t >= 0 && t <= 1)) {
            throw PaftException.usage(p.where() + ": " + k + " must be in [0, 1] (got " + t + ")");
        }
    }

    static void consensus(Params p) {
        String c = p.string("consensus");
        if (!"sum".equals(c) && !"count".equals(c)) {
            throw PaftException.usage(p.where() + ": consensus must be 'sum' or 'count' (got " + c + ")");
        }
    }

    static void seed(Params p) {
        double s = p.number("seed");
        if (s != Math.rint(s) || Math.abs(s) > 9.0e15) {
            throw PaftException.usage(p.where() + ": seed must be an integer (got " + s + ")");
        }
    }
}
