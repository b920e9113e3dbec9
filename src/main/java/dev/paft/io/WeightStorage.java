package dev.paft.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * How frozen base weights are held in memory ({@code model.dtype}), and the conversions from a
 * checkpoint's F32 / F16 / BF16 elements into it.
 *
 * <ul>
 *   <li>{@link #F32}: 4 bytes per weight, exact for every checkpoint dtype.</li>
 *   <li>{@link #F16}: IEEE half, 2 bytes; F32 and BF16 values round to nearest even.</li>
 *   <li>{@link #BF16}: the weights rounded to bfloat16 values (round to nearest even; BF16 checkpoints
 *       unchanged), held at 2 bytes as IEEE half, because the engine (DJL 0.36) cannot hold BF16 tensors.
 *       Half represents every bfloat16 value exactly for |w| in [2^-17, 65504]; smaller magnitudes round
 *       with an absolute error of at most 2^-25 (checked over all 65536 bit patterns in the tests).</li>
 * </ul>
 * A finite weight beyond half's range (|w| > 65504) cannot be stored in 2 bytes: the conversion reports
 * it, and loading refuses the tensor (exit 3) suggesting f32. NaN and infinities pass through unchanged.
 */
public enum WeightStorage {
    F32(4),
    F16(2),
    BF16(2);

    private final int bytes;

    WeightStorage(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per stored weight. */
    public int bytes() {
        return bytes;
    }

    /** True when the stored elements are IEEE half bit patterns (F16, and BF16 values held as half). */
    public boolean half() {
        return this != F32;
    }

    /** The config spelling ({@code model.dtype}, bound by the config loader): f32, f16, bf16. */
    public String configName() {
        return Mappers.spelling(this);
    }

    // ---------------------------------------------------------------- conversions

    /** bfloat16 bits -> the IEEE half bits of the same value (exact in half's range; tiny values round). */
    private static final short[] BF16_TO_HALF = new short[1 << 16];
    /** IEEE half bits -> half bits of the value rounded to bfloat16 (round to nearest even). */
    private static final short[] HALF_TO_BF16_HALF = new short[1 << 16];

    static {
        for (int i = 0; i < 1 << 16; i++) {
            BF16_TO_HALF[i] = DType.floatToHalf(DType.bf16ToFloat((short) i));
        }
        for (int i = 0; i < 1 << 16; i++) { // after the first table is complete
            short bf = DType.floatToBf16(DType.halfToFloat((short) i));
            HALF_TO_BF16_HALF[i] = BF16_TO_HALF[bf & 0xffff];
        }
    }

    /** The IEEE half bit pattern holding bfloat16 value {@code bf16} (see the class comment for exactness). */
    public static short bf16ToHalf(short bf16) {
        return BF16_TO_HALF[bf16 & 0xffff];
    }

    /** Float32 -> bfloat16 (round to nearest even) -> IEEE half bits. */
    public static short floatToBf16Half(float f) {
        return BF16_TO_HALF[DType.floatToBf16(f) & 0xffff];
    }

    /** A half pattern that is +-Inf although its source was finite: the value is beyond half's range. */
    private static boolean overflowed(short half, boolean sourceFinite) {
        return sourceFinite && (half & 0x7fff) == 0x7c00;
    }

    /**
     * Converts {@code n} elements of dtype {@code from} (little-endian, from {@code src}'s position) into this
     * storage, written at {@code dst}'s position (both buffers advance). Returns the index (0..n-1) of the first
     * finite value beyond half's range, or -1 when all fit; values after an overflow are still written.
     */
    public long convert(ByteBuffer src, DType from, int n, ByteBuffer dst) {
        src.order(ByteOrder.LITTLE_ENDIAN);
        dst.order(ByteOrder.LITTLE_ENDIAN);
        if (from != DType.F32 && from != DType.F16 && from != DType.BF16) {
            throw new IllegalArgumentException("weights must be F32, F16 or BF16, got " + from);
        }
        if (this == F32 && from == DType.F32 || this == F16 && from == DType.F16) {
            ByteBuffer part = src.duplicate(); // same format: a plain copy (nothing can overflow)
            part.limit(part.position() + n * from.size());
            dst.put(part);
            src.position(src.position() + n * from.size());
            return -1;
        }
        if (this == F32) {
            float[] f = scratchFloats(n);
            from.toFloats(src, f, 0, n);
            src.position(src.position() + n * from.size());
            dst.asFloatBuffer().put(f, 0, n);
            dst.position(dst.position() + 4 * n);
            return -1;
        }
        ShortBuffer out = dst.asShortBuffer();
        short[] h = scratchShorts(n);
        long firstBad = -1;
        if (from == DType.F32) {
            FloatBuffer in = src.asFloatBuffer();
            float[] f = scratchFloats(n);
            in.get(f, 0, n);
            for (int i = 0; i < n; i++) {
                h[i] = this == F16 ? DType.floatToHalf(f[i]) : floatToBf16Half(f[i]);
                if (firstBad < 0 && overflowed(h[i], Float.isFinite(f[i]))) {
                    firstBad = i;
                }
            }
        } else {
            ShortBuffer in = src.asShortBuffer();
            in.get(h, 0, n);
            short[] table = from == DType.BF16 ? BF16_TO_HALF : this == BF16 ? HALF_TO_BF16_HALF : null;
            for (int i = 0; i < n; i++) {
                short s = h[i];
                if (table != null) {
                    h[i] = table[s & 0xffff];
                }
                // a source is finite unless its exponent bits are all ones (BF16: 0x7f80, F16: 0x7c00)
                boolean finite = from == DType.BF16 ? (s & 0x7f80) != 0x7f80 : (s & 0x7c00) != 0x7c00;
                if (firstBad < 0 && overflowed(h[i], finite)) {
                    firstBad = i;
                }
            }
        }
        src.position(src.position() + n * from.size());
        out.put(h, 0, n);
        dst.position(dst.position() + 2 * n);
        return firstBad;
    }

    private static final ThreadLocal<float[][]> FLOATS = ThreadLocal.withInitial(() -> new float[1][0]);
    private static final ThreadLocal<short[][]> SHORTS = ThreadLocal.withInitial(() -> new short[1][0]);

    private static float[] scratchFloats(int n) {
        float[][] s = FLOATS.get();
        if (s[0].length < n) {
            s[0] = new float[n];
        }
        return s[0];
    }

    private static short[] scratchShorts(int n) {
        short[][] s = SHORTS.get();
        if (s[0].length < n) {
            s[0] = new short[n];
        }
        return s[0];
    }
}
