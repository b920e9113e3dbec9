package dev.paft.merge;

/** Small loops over float arrays written so that the JIT can vectorize them. */
final class Floats {
    private Floats() {}

    /** True when {@code v[from..to)} holds no NaN or infinity (exponent bits not all ones). */
    static boolean allFinite(float[] v, int from, int to) {
        int max = 0;
        for (int j = from; j < to; j++) {
            max = Math.max(max, Float.floatToRawIntBits(v[j]) & 0x7f800000);
        }
        return max != 0x7f800000;
    }
}
