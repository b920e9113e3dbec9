package dev.paft.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Random;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Float conversions against PyTorch: the expected float16 / bfloat16 bits come from
 * {@code scripts/golden/make_safetensors_fixture.py} (torch 1.13's {@code .to(float16)}).
 */
class DTypeTest {
    static Path resource(String name) {
        try {
            return Paths.get(DTypeTest.class.getResource("/io/" + name).toURI());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void floatToHalfAndBf16MatchTorchOnSweep() {
        try (SafetensorsFile f = SafetensorsFile.open(resource("conversion_sweep.safetensors"))) {
            IntBuf in = IntBuf.of(f.bytes("input_bits"));
            ByteBuffer h = f.bytes("f16_bits");
            ByteBuffer b = f.bytes("bf16_bits");
            int n = in.size();
            assertTrue(n > 40_000, "sweep has " + n + " values");
            int badHalf = 0;
            int badBf16 = 0;
            StringBuilder first = new StringBuilder();
            for (int i = 0; i < n; i++) {
                float x = Float.intBitsToFloat(in.get(i));
                short wantH = h.getShort(2 * i);
                short wantB = b.getShort(2 * i);
                short gotH = DType.floatToHalf(x);
                short gotB = DType.floatToBf16(x);
                if (gotH != wantH) {
                    if (badHalf++ < 5) {
                        first.append(
                                String.format("f16(%08x)=%04x want %04x; ", in.get(i), gotH & 0xffff, wantH & 0xffff));
                    }
                }
                if (gotB != wantB) {
                    if (badBf16++ < 5) {
                        first.append(
                                String.format("bf16(%08x)=%04x want %04x; ", in.get(i), gotB & 0xffff, wantB & 0xffff));
                    }
                }
            }
            assertEquals(0, badHalf + badBf16, badHalf + " f16 and " + badBf16 + " bf16 mismatches: " + first);
        }
    }

    /** Little-endian int view of a mapped buffer. */
    record IntBuf(ByteBuffer b) {
        static IntBuf of(ByteBuffer b) {
            return new IntBuf(b.order(ByteOrder.LITTLE_ENDIAN));
        }

        int size() {
            return b.remaining() / 4;
        }

        int get(int i) {
            return b.getInt(4 * i);
        }
    }

    @Test
    void halfToFloatIsExactForEveryHalf() {
        for (int h = 0; h < 0x10000; h++) {
            float f = DType.halfToFloat((short) h);
            int exp = (h >>> 10) & 0x1f;
            int mant = h & 0x3ff;
            if (exp == 0x1f && mant != 0) {
                assertTrue(Float.isNaN(f), "half " + Integer.toHexString(h));
                continue;
            }
            // exact value by definition: (-1)^s * 2^(e-15) * (1 + m/1024), or 2^-14 * m/1024 for subnormals
            double want = exp == 0
                    ? Math.scalb((double) mant, -24)
                    : exp == 0x1f ? Double.POSITIVE_INFINITY : Math.scalb(1024.0 + mant, exp - 25);
            if ((h & 0x8000) != 0) {
                want = -want;
            }
            assertEquals(
                    Double.doubleToRawLongBits(want), Double.doubleToRawLongBits(f), "half " + Integer.toHexString(h));
            assertEquals((short) h, DType.floatToHalf(f), "round trip of half " + Integer.toHexString(h));
        }
    }

    @Test
    void halfSpecials() {
        assertEquals(0x7c00, DType.floatToHalf(65520f) & 0xffff, "65520 is the tie to Inf");
        assertEquals(0x7bff, DType.floatToHalf(Math.nextDown(65520f)) & 0xffff);
        assertEquals(0x7c00, DType.floatToHalf(1e10f) & 0xffff);
        assertEquals(0xfc00, DType.floatToHalf(Float.NEGATIVE_INFINITY) & 0xffff);
        assertEquals(0x8000, DType.floatToHalf(-0.0f) & 0xffff);
        assertEquals(0x0001, DType.floatToHalf(0x1p-24f) & 0xffff, "smallest subnormal");
        assertEquals(0x0000, DType.floatToHalf(0x1p-25f) & 0xffff, "tie between 0 and 2^-24 goes to even 0");
        assertEquals(0x0001, DType.floatToHalf(Math.nextUp(0x1p-25f)) & 0xffff);
        assertEquals(0x0002, DType.floatToHalf(3 * 0x1p-25f) & 0xffff, "1.5 ulp ties to even 2");
        assertEquals(0x0400, DType.floatToHalf(0x1p-14f) & 0xffff, "smallest normal");
        assertEquals(0x03ff, DType.floatToHalf(0x1p-14f - 0x1p-24f) & 0xffff, "largest subnormal");
        assertEquals(0x0400, DType.floatToHalf(0x1p-14f - 0x1p-25f) & 0xffff, "tie into the normals goes to even");
        assertEquals(0x03ff, DType.floatToHalf(Math.nextDown(0x1p-14f - 0x1p-25f)) & 0xffff);
        assertEquals(0x7e00, DType.floatToHalf(Float.NaN) & 0xffff);
        assertEquals(
                0xfe00,
                DType.floatToHalf(Float.intBitsToFloat(0xff800001)) & 0xffff,
                "NaN keeps its sign, canonical payload");
        assertTrue(Float.isNaN(DType.halfToFloat(DType.floatToHalf(Float.intBitsToFloat(0x7f800001)))));
    }

    @Test
    void bf16RoundsToNearestEven() {
        // 1 + 2^-8 is exactly halfway between bf16 1.0 (0x3f80) and 1 + 2^-7 (0x3f81): even is 0x3f80
        assertEquals(0x3f80, DType.floatToBf16(1f + 0x1p-8f) & 0xffff);
        // 1 + 3*2^-8 is halfway between 0x3f81 and 0x3f82: even is 0x3f82
        assertEquals(0x3f82, DType.floatToBf16(1f + 3 * 0x1p-8f) & 0xffff);
        assertEquals(0x3f81, DType.floatToBf16(Math.nextUp(1f + 0x1p-8f)) & 0xffff);
        assertEquals(0x3f80, DType.floatToBf16(Math.nextDown(1f + 0x1p-8f)) & 0xffff);
        assertEquals(0x7f80, DType.floatToBf16(Float.POSITIVE_INFINITY) & 0xffff);
        assertEquals(0xff80, DType.floatToBf16(Float.NEGATIVE_INFINITY) & 0xffff);
        assertEquals(0x7f80, DType.floatToBf16(Float.MAX_VALUE) & 0xffff, "rounds up to Inf like torch");
        assertEquals(0x8000, DType.floatToBf16(-0.0f) & 0xffff);
        assertEquals(0x0001, DType.floatToBf16(Float.intBitsToFloat(0x00008000 + 1)) & 0xffff, "subnormal rounds up");
        assertEquals(0x0000, DType.floatToBf16(Float.intBitsToFloat(0x00008000)) & 0xffff, "subnormal tie to even");
        for (int bits : new int[] {0x7f800001, 0x7fc00000, 0xffc00000, 0x7fffffff, 0x7f80ffff}) {
            float back = DType.bf16ToFloat(DType.floatToBf16(Float.intBitsToFloat(bits)));
            assertTrue(Float.isNaN(back), "NaN " + Integer.toHexString(bits) + " must stay NaN");
        }
        // every bf16 value widens and narrows back to itself
        for (int h = 0; h < 0x10000; h++) {
            float f = DType.bf16ToFloat((short) h);
            if (!Float.isNaN(f)) {
                assertEquals((short) h, DType.floatToBf16(f), Integer.toHexString(h));
            }
        }
    }

    /**
     * The bulk BF16 conversions (vectorized words, a scalar fallback for non-finite steps, a tail of
     * 0-3 values) give the bits of the element-by-element ones: narrowing on the torch sweep (its
     * specials included) at every tail length and start offset, in a buffer at an odd position;
     * widening (and widening minus an array) of every BF16 pattern. The finite flag is exact.
     */
    @Test
    void bulkBf16ConversionsMatchTheScalarOnesBitForBit() {
        float[] sweep;
        try (SafetensorsFile f = SafetensorsFile.open(resource("conversion_sweep.safetensors"))) {
            IntBuf in = IntBuf.of(f.bytes("input_bits"));
            sweep = new float[in.size()];
            for (int i = 0; i < sweep.length; i++) {
                sweep[i] = Float.intBitsToFloat(in.get(i));
            }
        }
        Random rnd = new Random(7);
        float[] finite = new float[70_001];
        for (int i = 0; i < finite.length; i++) {
            finite[i] = Float.intBitsToFloat(rnd.nextInt());
            if (!Float.isFinite(finite[i])) {
                finite[i] = i;
            }
        }
        for (float[] src : new float[][] {sweep, finite}) {
            for (int off : new int[] {0, 1, 2, 3, 5}) {
                int n = src.length - off - 3 * (off & 1);
                ByteBuffer got = ByteBuffer.allocateDirect(2 * n + 3).order(ByteOrder.LITTLE_ENDIAN);
                got.position(3);
                boolean fin = DType.narrowBf16(src, off, n, got);
                assertEquals(3 + 2 * n, got.position());
                boolean wantFin = true;
                for (int i = 0; i < n; i++) {
                    float x = src[off + i];
                    wantFin &= Float.isFinite(x);
                    short want = DType.floatToBf16(x);
                    short have = got.getShort(3 + 2 * i);
                    if (want != have) {
                        assertEquals(
                                Integer.toHexString(want & 0xffff),
                                Integer.toHexString(have & 0xffff),
                                "element " + i + " (" + Integer.toHexString(Float.floatToRawIntBits(x)) + ") off "
                                        + off);
                    }
                }
                assertEquals(wantFin, fin, "finite flag, off " + off);
            }
        }
        // widening: every pattern, at a buffer position not a multiple of 8, minus an array or not
        ByteBuffer all = ByteBuffer.allocate(2 * 0x10000 + 6).order(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < 0x10000; h++) {
            all.putShort(6 + 2 * h, (short) (h * 40503)); // every pattern once, shuffled
        }
        float[] minus = new float[0x10000 + 9];
        for (int i = 0; i < minus.length; i++) {
            minus[i] = (float) rnd.nextGaussian();
        }
        for (int n : new int[] {0x10000, 0x10000 - 1, 0x10000 - 3, 5, 2}) {
            for (boolean sub : new boolean[] {false, true}) {
                float[] dst = new float[n + 9];
                DType.BF16.toFloats(all.duplicate().position(6), dst, 9, n, sub ? minus : null);
                for (int i = 0; i < n; i++) {
                    float x = DType.bf16ToFloat(all.getShort(6 + 2 * i));
                    float want = sub ? x - minus[9 + i] : x;
                    assertEquals(
                            Float.floatToRawIntBits(want), Float.floatToRawIntBits(dst[9 + i]), "n " + n + " i " + i);
                }
            }
        }
        // a NaN in the last step of several, and an infinity alone in a tail
        float[] v = new float[40_003];
        v[40_000 - 1] = Float.NaN;
        ByteBuffer out = ByteBuffer.allocate(2 * v.length);
        assertEquals(false, DType.narrowBf16(v, 0, v.length, out));
        assertEquals(0x7fc0, out.getShort(2 * (40_000 - 1)) & 0xffff);
        float[] w = new float[40_003];
        w[40_002] = Float.NEGATIVE_INFINITY;
        assertEquals(false, DType.narrowBf16(w, 0, w.length, ByteBuffer.allocate(2 * w.length)));
        assertEquals(true, DType.narrowBf16(new float[40_003], 0, 40_003, ByteBuffer.allocate(2 * 40_003)));
    }

    @Test
    void parseNames() {
        for (DType d : DType.values()) {
            assertEquals(d, DType.parse(d.name()));
        }
        assertEquals(null, DType.parse("F8_E4M3"));
        assertEquals(null, DType.parse("f32"), "safetensors names are upper case");
        assertEquals(DType.BF16, DType.parseUser("bfloat16", "x"));
        assertEquals(
                2,
                assertThrowsPaft(() -> DType.parseUser("int4", "merge.out_dtype"))
                        .exitCode());
    }

    static PaftException assertThrowsPaft(Executable e) {
        return Assertions.assertThrows(PaftException.class, e);
    }
}
