package dev.paft.io;

import dev.paft.errors.PaftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A safetensors element type, with its byte size and conversions to and from float32.
 *
 * <p>BF16 and F16 are converted in Java (DJL cannot hold BF16, see DJL-NOTES.md): BF16 widens by
 * {@code bits << 16}; narrowing rounds to nearest, ties to even; NaN stays NaN, Inf stays Inf.
 */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int size;

    DType(int size) {
        this.size = size;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    public boolean isFloat() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /** Parses a safetensors dtype name ("F32", "BF16", ...); null when unknown. */
    public static DType parse(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** Parses a user-facing dtype name: bf16, bfloat16, f16, float16, fp16, f32, float32. */
    public static DType parseUser(String name, String where) {
        switch (name.toLowerCase()) {
            case "bf16": case "bfloat16": return BF16;
            case "f16": case "fp16": case "float16": case "half": return F16;
            case "f32": case "fp32": case "float32": case "float": return F32;
            default: throw PaftException.usage(where + ": unknown dtype '" + name + "' (use bf16, f16 or f32)");
        }
    }

    /** The name transformers uses in config.json ({@code torch_dtype}). */
    public String torchName() {
        switch (this) {
            case BF16: return "bfloat16";
            case F16: return "float16";
            case F32: return "float32";
            case F64: return "float64";
            default: return name().toLowerCase();
        }
    }

    /** Reads {@code n} elements from {@code src} (little-endian, from its position) as floats into dst[off..]. */
    public void toFloats(ByteBuffer src, float[] dst, int off, int n) {
        toFloats(src, dst, off, n, null);
    }

    /**
     * As {@link #toFloats(ByteBuffer, float[], int, int)}, minus {@code minus[off + i]} when
     * {@code minus} is not null: {@code dst[off + i] = value_i - minus[off + i]} (one pass).
     */
    public void toFloats(ByteBuffer src, float[] dst, int off, int n, float[] minus) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32: b.asFloatBuffer().get(dst, off, n); break;
            case F16: case BF16: {
                // bulk copy 16-bit words into a chunk, then widen (per-element getShort is ~10x slower)
                java.nio.ShortBuffer sb = b.asShortBuffer();
                short[] chunk = CHUNK.get();
                for (int done = 0; done < n; ) {
                    int m = Math.min(chunk.length, n - done);
                    sb.get(chunk, 0, m);
                    int o = off + done;
                    if (this == BF16) {
                        if (minus == null) {
                            widenBf16(chunk, dst, o, m);
                        } else {
                            widenBf16Minus(chunk, dst, o, m, minus);
                        }
                    } else {
                        for (int i = 0; i < m; i++) dst[o + i] = halfToFloat(chunk[i]);
                        if (minus != null) {
                            for (int i = 0; i < m; i++) dst[o + i] -= minus[o + i];
                        }
                    }
                    done += m;
                }
                return;
            }
            case F64: for (int i = 0; i < n; i++) dst[off + i] = (float) b.getDouble(); break;
            case I64: for (int i = 0; i < n; i++) dst[off + i] = b.getLong(); break;
            case I32: for (int i = 0; i < n; i++) dst[off + i] = b.getInt(); break;
            case I16: for (int i = 0; i < n; i++) dst[off + i] = b.getShort(); break;
            case I8: for (int i = 0; i < n; i++) dst[off + i] = b.get(); break;
            case U8: for (int i = 0; i < n; i++) dst[off + i] = b.get() & 0xff; break;
            case BOOL: for (int i = 0; i < n; i++) dst[off + i] = b.get() != 0 ? 1f : 0f; break;
            default: throw new IllegalStateException(name());
        }
        if (minus != null && this != F16 && this != BF16) {
            for (int i = 0; i < n; i++) dst[off + i] -= minus[off + i];
        }
    }

    /** Per-thread 16-bit staging chunk of the BF16/F16 conversions (no garbage per call). */
    private static final ThreadLocal<short[]> CHUNK = ThreadLocal.withInitial(() -> new short[1 << 16]);

    private static void widenBf16(short[] s, float[] dst, int o, int m) {
        for (int i = 0; i < m; i++) {
            dst[o + i] = Float.intBitsToFloat(s[i] << 16);
        }
    }

    private static void widenBf16Minus(short[] s, float[] dst, int o, int m, float[] minus) {
        for (int i = 0; i < m; i++) {
            dst[o + i] = Float.intBitsToFloat(s[i] << 16) - minus[o + i];
        }
    }

    /** Writes {@code n} floats from src[off..] into {@code dst} (little-endian, at its position, advancing it). */
    public void fromFloats(float[] src, int off, int n, ByteBuffer dst) {
        dst.order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32: dst.asFloatBuffer().put(src, off, n); dst.position(dst.position() + 4 * n); return;
            case F16: case BF16: {
                // narrow into a chunk, then bulk copy (per-element putShort is ~10x slower)
                short[] chunk = CHUNK.get();
                java.nio.ShortBuffer sb = dst.asShortBuffer();
                for (int done = 0; done < n; ) {
                    int m = Math.min(chunk.length, n - done);
                    if (this == BF16) {
                        narrowBf16(src, off + done, chunk, m);
                    } else {
                        for (int i = 0; i < m; i++) chunk[i] = floatToHalf(src[off + done + i]);
                    }
                    sb.put(chunk, 0, m);
                    done += m;
                }
                dst.position(dst.position() + 2 * n);
                return;
            }
            case F64: for (int i = 0; i < n; i++) dst.putDouble(src[off + i]); return;
            default: throw new IllegalArgumentException("cannot write floats as " + name());
        }
    }

    /** {@link #floatToBf16} over a range; the NaN case is rare, so it is fixed up after a branch-free pass. */
    private static void narrowBf16(float[] src, int off, short[] out, int m) {
        int nan = 0;
        for (int i = 0; i < m; i++) {
            int bits = Float.floatToRawIntBits(src[off + i]);
            out[i] = (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
            nan |= ((bits & 0x7fffffff) + 0x007fffff) & 0x80000000; // sign set iff |bits| > 0x7f800000
        }
        if (nan != 0) {
            for (int i = 0; i < m; i++) {
                out[i] = floatToBf16(src[off + i]);
            }
        }
    }

    /** Float32 to bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7fff + lsb) >>> 16);
    }

    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** IEEE half bits to float32 (exact). */
    public static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            float v = mant * 0x1p-24f; // subnormal: mant * 2^-24
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /**
     * Float32 to IEEE half bits, rounding to nearest even; overflow gives Inf, NaN becomes the
     * canonical quiet NaN {@code sign | 0x7e00} (as PyTorch's conversion does).
     */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs > 0x7f800000) {
            return (short) (sign | 0x7e00);
        }
        if (abs >= 0x477ff000) { // rounds to >= 65520: Inf
            return (short) (sign | 0x7c00);
        }
        if (abs < 0x38800000) { // below the smallest normal half (2^-14): subnormal or zero
            if (abs < 0x33000000) { // < 2^-25: rounds to zero (2^-25 exactly is a tie to even -> 0)
                return (short) sign;
            }
            int exp = abs >>> 23;
            int mant = (abs & 0x7fffff) | 0x800000;
            int shift = 126 - exp; // value = mant * 2^(exp-150); half subnormal unit = 2^-24
            int q = mant >>> (shift);
            int rem = mant & ((1 << shift) - 1);
            int half = 1 << (shift - 1);
            if (rem > half || (rem == half && (q & 1) == 1)) {
                q++;
            }
            return (short) (sign | q);
        }
        int rounded = abs + 0xfff + ((abs >>> 13) & 1);
        return (short) (sign | ((rounded - 0x38000000) >>> 13));
    }
}
