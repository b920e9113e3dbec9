package dev.paft.io;

import dev.paft.errors.PaftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/**
 * A safetensors element type, with its byte size and conversions to and from float32.
 *
 * <p>BF16 and F16 are converted in Java (DJL cannot hold BF16, see docs/ENGINE-NOTES.md): BF16 widens by
 * {@code bits << 16}; narrowing rounds to nearest, ties to even; NaN stays NaN, Inf stays Inf.
 */
public enum DType {
    F64(8),
    F32(4),
    F16(2),
    BF16(2),
    I64(8),
    I32(4),
    I16(2),
    I8(1),
    U8(1),
    BOOL(1);

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
            case "bf16":
            case "bfloat16":
                return BF16;
            case "f16":
            case "fp16":
            case "float16":
            case "half":
                return F16;
            case "f32":
            case "fp32":
            case "float32":
            case "float":
                return F32;
            default:
                throw PaftException.usage(where + ": unknown dtype '" + name + "' (use bf16, f16 or f32)");
        }
    }

    /** The name transformers uses in config.json ({@code torch_dtype}). */
    public String torchName() {
        switch (this) {
            case BF16:
                return "bfloat16";
            case F16:
                return "float16";
            case F32:
                return "float32";
            case F64:
                return "float64";
            default:
                return name().toLowerCase();
        }
    }

    /** Reads {@code n} elements from {@code src} (little-endian, from its position) as floats into dst[off..]. */
    public void toFloats(ByteBuffer src, float[] dst, int off, int n) {
        toFloats(src, dst, off, n, null);
    }

    /**
     * As {@link #toFloats(ByteBuffer, float[], int, int)}, minus {@code minus[off + i]} when
     * {@code minus} is not null: {@code dst[off + i] = value_i - minus[off + i]} (a task vector).
     */
    public void toFloats(ByteBuffer src, float[] dst, int off, int n, float[] minus) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32:
                b.asFloatBuffer().get(dst, off, n);
                break;
            case BF16: {
                // 64-bit words of four BF16 values are spread into two words of two float32 bit
                // patterns by integer loops C2 vectorizes, interleaved, and reinterpreted as floats
                // by bulk copies through a direct buffer (Float.intBitsToFloat is not vectorized)
                Scratch sc = SCRATCH.get();
                LongBuffer lb = b.asLongBuffer();
                int done = 0;
                for (int words = n / 4; done < 4 * words; ) {
                    int w = Math.min(Scratch.WORDS, words - done / 4);
                    lb.get(sc.in, 0, w);
                    spreadBf16(sc.in, sc.lo, sc.hi, w);
                    interleave(sc.lo, sc.hi, sc.wide, w);
                    sc.bytes.clear();
                    sc.bytes.asLongBuffer().put(sc.wide, 0, 2 * w);
                    sc.bytes.asFloatBuffer().get(dst, off + done, 4 * w);
                    if (minus != null) {
                        subtract(dst, minus, off + done, off + done + 4 * w);
                    }
                    done += 4 * w;
                }
                for (int i = done; i < n; i++) { // the last 0-3 values
                    float x = bf16ToFloat(b.getShort(b.position() + 2 * i));
                    dst[off + i] = minus == null ? x : x - minus[off + i];
                }
                return;
            }
            case F16: {
                // bulk copy 16-bit words into a chunk, then widen (per-element getShort is ~10x slower)
                ShortBuffer sb = b.asShortBuffer();
                short[] chunk = CHUNK.get();
                for (int done = 0; done < n; ) {
                    int m = Math.min(chunk.length, n - done);
                    sb.get(chunk, 0, m);
                    int o = off + done;
                    for (int i = 0; i < m; i++) dst[o + i] = halfToFloat(chunk[i]);
                    if (minus != null) {
                        subtract(dst, minus, o, o + m);
                    }
                    done += m;
                }
                return;
            }
            case F64:
                for (int i = 0; i < n; i++) dst[off + i] = (float) b.getDouble();
                break;
            case I64:
                for (int i = 0; i < n; i++) dst[off + i] = b.getLong();
                break;
            case I32:
                for (int i = 0; i < n; i++) dst[off + i] = b.getInt();
                break;
            case I16:
                for (int i = 0; i < n; i++) dst[off + i] = b.getShort();
                break;
            case I8:
                for (int i = 0; i < n; i++) dst[off + i] = b.get();
                break;
            case U8:
                for (int i = 0; i < n; i++) dst[off + i] = b.get() & 0xff;
                break;
            case BOOL:
                for (int i = 0; i < n; i++) dst[off + i] = b.get() != 0 ? 1f : 0f;
                break;
            default:
                throw new IllegalStateException(name());
        }
        if (minus != null && this != F16 && this != BF16) {
            for (int i = 0; i < n; i++) dst[off + i] -= minus[off + i];
        }
    }

    /** Per-thread 16-bit staging chunk of the F16 conversions (no garbage per call). */
    private static final ThreadLocal<short[]> CHUNK = ThreadLocal.withInitial(() -> new short[1 << 16]);

    /** Per-thread scratch of the BF16 conversions: 64-bit words and a direct buffer to reinterpret them. */
    private static final class Scratch {
        /** 64-bit words of BF16 values per step (16 Ki values: the arrays stay in L2). */
        static final int WORDS = 1 << 12;

        final long[] in = new long[WORDS];
        final long[] lo = new long[WORDS];
        final long[] hi = new long[WORDS];
        final long[] wide = new long[2 * WORDS];
        final long[] q = new long[2 * WORDS];
        final ByteBuffer bytes = ByteBuffer.allocateDirect(16 * WORDS).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * BF16 values {@code v0..v3} of each word (little-endian, v0 lowest) to float32 bits:
     * {@code lo[k]} holds {@code v0 << 16, v1 << 16}, {@code hi[k]} {@code v2 << 16, v3 << 16}.
     */
    private static void spreadBf16(long[] in, long[] lo, long[] hi, int m) {
        for (int k = 0; k < m; k++) {
            long v = in[k];
            lo[k] = ((v & 0xffffL) << 16) | ((v & 0xffff0000L) << 32);
            hi[k] = ((v >>> 16) & 0xffff0000L) | (v & 0xffff000000000000L);
        }
    }

    private static void interleave(long[] lo, long[] hi, long[] out, int m) {
        for (int k = 0; k < m; k++) {
            out[2 * k] = lo[k];
            out[2 * k + 1] = hi[k];
        }
    }

    /** {@code v[j] -= minus[j]} for j in [from, to). */
    private static void subtract(float[] v, float[] minus, int from, int to) {
        for (int j = from; j < to; j++) {
            v[j] -= minus[j];
        }
    }

    /** Writes {@code n} floats from src[off..] into {@code dst} (little-endian, at its position, advancing it). */
    public void fromFloats(float[] src, int off, int n, ByteBuffer dst) {
        dst.order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32:
                dst.asFloatBuffer().put(src, off, n);
                dst.position(dst.position() + 4 * n);
                return;
            case BF16:
                narrowBf16(src, off, n, dst);
                return;
            case F16: {
                // narrow into a chunk, then bulk copy (per-element putShort is ~10x slower)
                short[] chunk = CHUNK.get();
                ShortBuffer sb = dst.asShortBuffer();
                for (int done = 0; done < n; ) {
                    int m = Math.min(chunk.length, n - done);
                    for (int i = 0; i < m; i++) chunk[i] = floatToHalf(src[off + done + i]);
                    sb.put(chunk, 0, m);
                    done += m;
                }
                dst.position(dst.position() + 2 * n);
                return;
            }
            case F64:
                for (int i = 0; i < n; i++) dst.putDouble(src[off + i]);
                return;
            default:
                throw new IllegalArgumentException("cannot write floats as " + name());
        }
    }

    /**
     * Writes {@code n} floats from src[off..] as BF16 (as {@link #fromFloats}) and tells whether
     * they were all finite (no NaN, no infinity): the check comes from the conversion loop, so a
     * caller that must reject non-finite values needs no pass of its own.
     */
    public static boolean narrowBf16(float[] src, int off, int n, ByteBuffer dst) {
        dst.order(ByteOrder.LITTLE_ENDIAN);
        Scratch sc = SCRATCH.get();
        LongBuffer out = dst.asLongBuffer();
        boolean finite = true;
        int done = 0;
        for (int words = n / 4; done < 4 * words; ) {
            int w = Math.min(Scratch.WORDS, words - done / 4);
            sc.bytes.clear();
            sc.bytes.asFloatBuffer().put(src, off + done, 4 * w);
            sc.bytes.asLongBuffer().get(sc.wide, 0, 2 * w);
            roundBf16(sc.wide, sc.q, 2 * w);
            if (pack(sc.q, sc.in, w) < 0) {
                // NaN or infinity in this step: the scalar conversion (NaN stays a quiet NaN)
                finite = false;
                for (int i = 0; i < 4 * w; i++) {
                    sc.bytes.putShort(2 * i, floatToBf16(src[off + done + i]));
                }
                sc.bytes.clear();
                sc.bytes.asLongBuffer().get(sc.in, 0, w);
            }
            out.put(sc.in, 0, w);
            done += 4 * w;
        }
        for (int i = done; i < n; i++) { // the last 0-3 values
            finite &= Float.isFinite(src[off + i]);
            dst.putShort(dst.position() + 2 * i, floatToBf16(src[off + i]));
        }
        dst.position(dst.position() + 2 * n);
        return finite;
    }

    /**
     * Round to nearest even of the two float32 bit patterns in each word, in 64-bit arithmetic
     * (C2 vectorizes it): {@code q[j]}'s low 32 bits hold the two BF16 results; bit 63 is set when
     * either value is NaN or infinite (then the results are not used: a NaN's carry could cross
     * into the other half). Per half, {@code bits + 0x7fff + lsb} never carries out for a non-NaN.
     */
    private static void roundBf16(long[] in, long[] q, int m) {
        for (int j = 0; j < m; j++) {
            long a = in[j];
            long r = a + 0x00007fff00007fffL + ((a >>> 16) & 0x0000000100000001L);
            long bad = (a & 0x7fffffff7fffffffL) + 0x0080000000800000L; // bit 31 / 63: exponent all ones
            q[j] = ((r >>> 16) & 0xffffL) | ((r >>> 32) & 0xffff0000L) | ((bad | (bad << 32)) & 0x8000000000000000L);
        }
    }

    /** Two rounded words per output word (four BF16 values); negative when any was flagged non-finite. */
    private static long pack(long[] q, long[] out, int m) {
        long flags = 0;
        for (int j = 0; j < m; j++) {
            long a = q[2 * j];
            long b = q[2 * j + 1];
            out[j] = (a & 0xffffffffL) | (b << 32);
            flags |= a | b;
        }
        return flags;
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
