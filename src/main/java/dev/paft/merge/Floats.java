package dev.paft.merge;

/** Small loops over float arrays written so that the JIT can vectorize them. */
final class Floats {
    private Floats() {}

    /**
     * True when {@code v[from..to)} holds no NaN or infinity: {@code |bits| + 2^23} reaches the
     * sign bit exactly when the exponent bits are all ones; OR-ed over the range (integer ops only:
     * a float max of {@code x * 0} was faster but C2's vectorized max reduction lost NaNs).
     */
    static boolean allFinite(float[] v, int from, int to) {
        int acc = 0;
        for (int j = from; j < to; j++) {
            acc |= (Float.floatToRawIntBits(v[j]) & 0x7fffffff) + 0x00800000;
        }
        return acc >= 0;
    }
}
