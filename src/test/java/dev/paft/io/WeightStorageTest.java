package dev.paft.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * model.dtype's conversions. The claim that IEEE half holds every bfloat16 value exactly for |w| in [2^-17, 65504]
 * and within 2^-25 below is checked over all 65536 bfloat16 bit patterns; the tables equal torch's conversions
 * (CRC-32 golden from scripts/golden/make_weight_storage_golden.py).
 */
class WeightStorageTest {
    static JsonNode golden() throws Exception {
        return new ObjectMapper()
                .readTree(
                        Path.of("src/test/resources/model/storage_golden.json").toFile());
    }

    @Test
    void halfHoldsEveryBf16ValueExactlyInRangeAndWithinTwoToMinus25Below() {
        int exact = 0;
        int rounded = 0;
        int overflow = 0;
        double worst = 0;
        for (int i = 0; i < 1 << 16; i++) {
            float v = DType.bf16ToFloat((short) i);
            float h = DType.halfToFloat(WeightStorage.bf16ToHalf((short) i));
            if (Float.isNaN(v)) {
                assertTrue(Float.isNaN(h), "NaN pattern " + Integer.toHexString(i));
            } else if (Math.abs(v) > 65504f) {
                assertTrue(
                        Float.isInfinite(h) && Math.signum(h) == Math.signum(v),
                        "beyond half's range: " + v + " -> " + h);
                overflow += Float.isFinite(v) ? 1 : 0;
            } else if (Math.abs(v) >= 0x1p-17f) {
                assertEquals(v, h, 0f, "pattern " + Integer.toHexString(i));
                exact++;
            } else {
                double err = Math.abs((double) h - v);
                assertTrue(err <= 0x1p-25, "pattern " + Integer.toHexString(i) + ": " + v + " -> " + h);
                worst = Math.max(worst, err);
                if (err > 0) {
                    rounded++;
                }
            }
        }
        // the bound is reached (the claim is tight), and the exact range is the bulk of the patterns
        assertEquals(0x1p-25, worst, 0);
        // 33 binades (2^-17 .. 2^15) x 128 mantissas x 2 signs are exact
        assertEquals(2 * 33 * 128, exact);
        assertTrue(rounded > 0);
        assertEquals(2 * (0x7f80 - 0x4780), overflow, "finite bfloat16 values above 65504: from 65536 up");
        // 2^-17 is the boundary: the largest bfloat16 value below it is not exact in half
        float below = DType.bf16ToFloat((short) 0x36ff);
        assertTrue(below < 0x1p-17f && DType.halfToFloat(WeightStorage.bf16ToHalf((short) 0x36ff)) != below);
    }

    @Test
    void tablesEqualTorchConversions() throws Exception {
        CRC32 a = new CRC32();
        CRC32 b = new CRC32();
        ByteBuffer x = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer y = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 1 << 16; i++) {
            x.clear();
            x.putShort(WeightStorage.bf16ToHalf((short) i));
            a.update(x.array());
            // f16 pattern -> bf16 storage, through the conversion the loader runs
            ByteBuffer src =
                    ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) i);
            y.clear();
            WeightStorage.BF16.convert(src, DType.F16, 1, y);
            b.update(y.array());
        }
        assertEquals(golden().get("bf16_to_f16_crc32").asLong(), a.getValue());
        assertEquals(golden().get("f16_to_bf16_f16_crc32").asLong(), b.getValue());
    }

    static ByteBuffer floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.flip();
    }

    @Test
    void conversionsRoundAndReportTheFirstValueBeyondHalfsRange() {
        float[] v = {1f, 1.00390625f, 65504f, 70000f, -1e6f, Float.POSITIVE_INFINITY, Float.NaN, 3.14159265f};
        ByteBuffer out = ByteBuffer.allocate(2 * v.length);
        assertEquals(3, WeightStorage.F16.convert(floats(v), DType.F32, v.length, out));
        assertEquals(
                DType.floatToHalf(1.00390625f),
                out.order(ByteOrder.LITTLE_ENDIAN).getShort(2)); // f16 keeps 1 + 2^-8
        out.clear();
        // 65504 itself rounds to bfloat16 65536, beyond half: bf16 storage holds at most 65280
        assertEquals(2, WeightStorage.BF16.convert(floats(v), DType.F32, v.length, out));
        // bf16 rounds 1 + 2^-8 to 1 (tie to even), pi to 3.140625, keeps inf / NaN
        assertEquals(1f, DType.halfToFloat(out.getShort(2)));
        assertEquals(3.140625f, DType.halfToFloat(out.getShort(14)));
        assertTrue(Float.isInfinite(DType.halfToFloat(out.getShort(10))));
        assertTrue(Float.isNaN(DType.halfToFloat(out.getShort(12))));
        // everything in range: -1; infinities in the source are not an overflow
        out.clear();
        assertEquals(-1, WeightStorage.BF16.convert(floats(0.5f, Float.NEGATIVE_INFINITY), DType.F32, 2, out));
        // a BF16 source of 65536 (0x4780) overflows, 65280 (0x477f) fits exactly
        ByteBuffer bf = ByteBuffer.allocate(4)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putShort((short) 0x477f)
                .putShort((short) 0x4780)
                .flip();
        out.clear();
        assertEquals(1, WeightStorage.F16.convert(bf, DType.BF16, 2, out));
        assertEquals(65280f, DType.halfToFloat(out.getShort(0)));
        // same format: a plain copy, positions advance
        ByteBuffer f32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer src = floats(2.5f, -7f);
        assertEquals(-1, WeightStorage.F32.convert(src, DType.F32, 2, f32));
        assertEquals(8, src.position());
        assertEquals(8, f32.position());
        assertEquals(-7f, f32.getFloat(4));
        // BF16 source into f32 storage widens exactly
        ByteBuffer w = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        WeightStorage.F32.convert(
                ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) 0x4049), DType.BF16, 1, w);
        assertEquals(3.140625f, w.getFloat(0));
    }

    @Test
    void configSpellings() {
        assertEquals(List.of("f32", "f16", "bf16"), Mappers.spellings(WeightStorage.class));
        assertEquals("bf16", WeightStorage.BF16.configName());
        assertEquals(2, WeightStorage.BF16.bytes());
    }
}
