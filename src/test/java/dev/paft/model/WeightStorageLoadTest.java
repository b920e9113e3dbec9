package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import dev.paft.io.HfModelConfig;
import dev.paft.io.SafetensorsFile;
import dev.paft.io.TensorInfo;
import dev.paft.io.WeightStorage;
import dev.paft.testutil.Fixtures;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Loading into native memory at each model.dtype: every stored projection / embedding tensor equals torch's rounding
 * of the checkpoint bit for bit (CRC-32 golden of scripts/golden/make_weight_storage_golden.py), for F32, F16 and
 * BF16 checkpoints, whole and filled in row pieces.
 */
class WeightStorageLoadTest {
    @TempDir
    Path tmp;

    static long crc(NDArray t) {
        CRC32 c = new CRC32();
        c.update(t.toByteArray());
        return c.getValue();
    }

    static void assertMatchesTorch(String fixture, WeightStorage storage) throws Exception {
        JsonNode want = new ObjectMapper()
                .readTree(Fixtures.ROOT.resolve("storage_golden.json").toFile())
                .get("models")
                .get(fixture)
                .get(storage.configName());
        try (LlamaModel m = LlamaModel.load(Fixtures.dir(fixture), Fixtures.cpu(), storage)) {
            assertEquals(storage, m.storage());
            int n = 0;
            for (var it = want.fields(); it.hasNext(); n++) {
                var e = it.next();
                NDArray t = m.frozenTensor(e.getKey());
                assertEquals(storage.half() ? DataType.FLOAT16 : DataType.FLOAT32, t.getDataType(), e.getKey());
                assertEquals(e.getValue().asLong(), crc(t), fixture + " " + storage + " " + e.getKey());
            }
            assertTrue(n >= 8, "golden tensors: " + n);
        }
    }

    @ParameterizedTest
    @CsvSource({
        "llama,F32",
        "llama,F16",
        "llama,BF16",
        "qwen2-f16,F32",
        "qwen2-f16,F16",
        "qwen2-f16,BF16",
        "llama-tied-bf16,F32",
        "llama-tied-bf16,F16",
        "llama-tied-bf16,BF16"
    })
    void storedWeightsEqualTorchRounding(String fixture, WeightStorage storage) throws Exception {
        assertMatchesTorch(fixture, storage);
    }

    @Test
    void tensorsFilledInRowPiecesEqualWholeOnes() throws Exception {
        long saved = LlamaModel.pieceBytes;
        LlamaModel.pieceBytes = 100; // a few rows per piece, and pieces of one row where a row is larger
        try {
            assertMatchesTorch("llama", WeightStorage.BF16);
            assertMatchesTorch("llama-tied-bf16", WeightStorage.F32);
        } finally {
            LlamaModel.pieceBytes = saved;
        }
    }

    @Test
    void randomWeightsDoNotDependOnTheStorage() {
        HfModelConfig cfg = HfModelConfig.read(Fixtures.dir("llama"));
        try (LlamaModel f32 = LlamaModel.random(cfg, 7, Fixtures.cpu(), WeightStorage.F32);
                LlamaModel f16 = LlamaModel.random(cfg, 7, Fixtures.cpu(), WeightStorage.F16)) {
            for (String name : new String[] {HfNames.EMBED, HfNames.weight(1, Proj.DOWN)}) {
                NDArray want = f32.frozenTensor(name).toType(DataType.FLOAT16, true);
                assertTrue(
                        Arrays.equals(want.toByteArray(), f16.frozenTensor(name).toByteArray()), name);
                want.close();
            }
        }
    }

    @Test
    void aWeightBeyondHalfsRangeIsRefusedForTwoByteStorageNamingTheTensor() throws Exception {
        Path dir = tmp.resolve("big");
        Files.createDirectories(dir);
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(Fixtures.dir("llama").resolve(f), dir.resolve(f));
        }
        String name = HfNames.weight(1, Proj.V);
        long at;
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            TensorInfo t = f.info(name);
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            try (var ch = FileChannel.open(dir.resolve("model.safetensors"))) {
                ch.read(len, 0);
            }
            at = 8 + len.flip().getLong() + t.begin() + 4 * 5; // element 5
        }
        try (RandomAccessFile raf =
                new RandomAccessFile(dir.resolve("model.safetensors").toFile(), "rw")) {
            raf.seek(at);
            raf.write(ByteBuffer.allocate(4)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putFloat(1e5f)
                    .array());
        }
        for (WeightStorage s : new WeightStorage[] {WeightStorage.BF16, WeightStorage.F16}) {
            PaftException e = assertThrows(
                    PaftException.class,
                    () -> LlamaModel.load(dir, Fixtures.cpu(), s).close());
            assertEquals(3, e.exitCode());
            assertTrue(
                    e.getMessage().contains(name)
                            && e.getMessage().contains("element 5")
                            && e.getMessage().contains("model.dtype: f32"),
                    e.getMessage());
        }
        try (LlamaModel m = LlamaModel.load(dir, Fixtures.cpu(), WeightStorage.F32)) {
            assertEquals(1e5f, m.frozenTensor(name).toFloatArray()[5]);
        }
    }

    @Test
    void weightBytesCountTwoByteProjectionsAndFloat32Norms() {
        HfModelConfig cfg = HfModelConfig.read(Fixtures.dir("llama"));
        long all = 0;
        long small = 0;
        for (Map.Entry<String, long[]> e : HfNames.expectedTensors(cfg).entrySet()) {
            long n = TensorInfo.numel(e.getValue());
            all += n;
            if (e.getKey().endsWith("norm.weight")) {
                small += n;
            }
        }
        assertEquals(4 * all, LlamaModel.weightBytes(cfg, WeightStorage.F32));
        assertEquals(2 * (all - small) + 4 * small, LlamaModel.weightBytes(cfg, WeightStorage.BF16));
    }
}
