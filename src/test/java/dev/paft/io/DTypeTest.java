package dev.paft.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.Test;

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
                        first.append(String.format("f16(%08x)=%04x want %04x; ", in.get(i), gotH & 0xffff, wantH & 0xffff));
                    }
                }
                if (gotB != wantB) {
                    if (badBf16++ < 5) {
                        first.append(String.format("bf16(%08x)=%04x want %04x; ", in.get(i), gotB & 0xffff, wantB & 0xffff));
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
            double want = exp == 0 ? Math.scalb((double) mant, -24)
                    : exp == 0x1f ? Double.POSITIVE_INFINITY : Math.scalb(1024.0 + mant, exp - 25);
            if ((h & 0x8000) != 0) {
                want = -want;
            }
            assertEquals(Double.doubleToRawLongBits(want), Double.doubleToRawLongBits(f), "half " + Integer.toHexString(h));
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
        assertEquals(0xfe00, DType.floatToHalf(Float.intBitsToFloat(0xff800001)) & 0xffff, "NaN keeps its sign, canonical payload");
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

    @Test
    void parseNames() {
        for (DType d : DType.values()) {
            assertEquals(d, DType.parse(d.name()));
        }
        assertEquals(null, DType.parse("F8_E4M3"));
        assertEquals(null, DType.parse("f32"), "safetensors names are upper case");
        assertEquals(DType.BF16, DType.parseUser("bfloat16", "x"));
        assertEquals(2, assertThrowsPaft(() -> DType.parseUser("int4", "merge.out_dtype")).exitCode());
    }

    static dev.paft.errors.PaftException assertThrowsPaft(org.junit.jupiter.api.function.Executable e) {
        return org.junit.jupiter.api.Assertions.assertThrows(dev.paft.errors.PaftException.class, e);
    }
}
