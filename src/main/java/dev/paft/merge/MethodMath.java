package dev.paft.merge;

import dev.paft.errors.PaftException;

/** Reductions and checks the geometric merge methods share (double accumulation over float32 data). */
final class MethodMath {
    private MethodMath() {}

    /** {@code sum_j v[j]^2} in double; throws {@link NonFiniteInputException} for input {@code input} when v holds NaN/Inf. */
    static double sumSquares(float[] v, int input) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        if (!Double.isFinite(s)) {
            // a sum of squares of finite floats cannot overflow a double: v holds NaN or Inf
            throw NonFiniteInputException.first(v).forInput(input);
        }
        return s;
    }

    /**
     * Throws {@link NonFiniteInputException} naming input {@code input} when v holds NaN/Inf (for the
     * base, any index: the executor names the base when its own element is the cause).
     */
    static void requireFinite(float[] v, int input) {
        if (!Floats.allFinite(v, 0, v.length)) {
            throw NonFiniteInputException.first(v).forInput(input);
        }
    }

    /** {@code v[j] -= base[j]} (a model into its task vector, float32 as mergekit's {@code t - base}). */
    static void subtract(float[] v, float[] base) {
        for (int j = 0; j < v.length; j++) {
            v[j] -= base[j];
        }
    }

    /** A global integer parameter (YAML numbers arrive as doubles): exit 2 unless integral and within [min, max]. */
    static int integer(Params p, String k, int min, int max) {
        double v = p.number(k);
        if (v != Math.rint(v) || v < min || v > max) {
            throw PaftException.usage(
                    p.where() + ": " + k + " must be an integer in [" + min + ", " + max + "] (got " + v + ")");
        }
        return (int) v;
    }

    /** A finite parameter {@code >= 0}. */
    static double nonNegative(Params p, String k) {
        double v = ParamChecks.finite(p, k);
        if (v < 0) {
            throw PaftException.usage(p.where() + ": " + k + " must be >= 0 (got " + v + ")");
        }
        return v;
    }

    /**
     * The vectors a tensor is cut into along one dimension: {@code count} vectors of {@code length}
     * elements, element {@code k} of vector {@code v} at {@code start(v) + k * stride}.
     */
    record Lines(int count, int length, int stride) {
        /** Vectors along the last dimension (rows of a matrix; a 0-d or 1-d tensor is one vector). */
        static Lines lastDim(long[] shape, int n) {
            int len = shape.length == 0 ? n : (int) shape[shape.length - 1];
            return new Lines(len == 0 ? 0 : n / len, len, 1);
        }

        /** Vectors along dimension 0 (the columns of a matrix): stride {@code n / shape[0]}. */
        static Lines firstDim(long[] shape, int n) {
            if (shape.length < 2) {
                return new Lines(1, n, 1);
            }
            int len = (int) shape[0];
            int stride = n / len;
            return new Lines(stride, len, stride);
        }

        /** The whole tensor as one vector. */
        static Lines flat(int n) {
            return new Lines(1, n, 1);
        }

        /** Index of element 0 of vector {@code v}. */
        int start(int v) {
            return stride == 1 ? v * length : v;
        }
    }
}
