package dev.paft.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.paft.errors.PaftException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Device memory and the one out-of-memory message. */
class DeviceMemoryTest {
    @TempDir
    Path tmp;

    @Test
    void readsMeminfoFieldsInBytes() throws Exception {
        Path f = tmp.resolve("meminfo");
        Files.writeString(f, "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   12288000 kB\n");
        assertEquals(24576000L * 1024, DeviceMemory.meminfo(f, "MemTotal"));
        assertEquals(12288000L * 1024, DeviceMemory.meminfo(f, "MemAvailable"));
        assertEquals(-1, DeviceMemory.meminfo(f, "SwapTotal"));
        assertEquals(-1, DeviceMemory.meminfo(tmp.resolve("none"), "MemTotal"));
        assertTrue(DeviceMemory.totalBytes(Device.cpu()) > 1L << 28, "this machine's MemTotal");
    }

    @Test
    void weightsLargerThanTheMachineAreRefusedWithTheSettingToChange() {
        long total = DeviceMemory.totalBytes(null);
        PaftException e = assertThrows(
                PaftException.class,
                () -> DeviceMemory.requireFits(
                        null, 2 * total, "m: the model's weights (f32)", "set model.dtype: bf16"));
        assertEquals(1, e.exitCode());
        assertTrue(
                e.getMessage().startsWith("m: the model's weights (f32) need ")
                        && e.getMessage().endsWith("set model.dtype: bf16")
                        && !e.getMessage().contains("\n"),
                e.getMessage());
        DeviceMemory.requireFits(null, 1 << 20, "small", "nothing");
    }

    @Test
    void libtorchsCpuAllocationFailureIsRecognisedAndMappedToOneLine() {
        Engines.cpu();
        // 2^50 bytes: beyond any machine and address space, whatever the overcommit policy
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            RuntimeException e =
                    assertThrows(RuntimeException.class, () -> m.create(new Shape(1L << 48), DataType.FLOAT32));
            assertTrue(DeviceMemory.isOutOfMemory(e), "not recognised: " + e);
            PaftException p = DeviceMemory.outOfMemory(e);
            assertEquals(1, p.exitCode());
            assertFalse(p.getMessage().contains("\n"), p.getMessage());
            assertTrue(p.getMessage().startsWith("out of memory ("), p.getMessage());
        }
    }

    @Test
    void cudaOutOfMemoryNamesTheSettingsToLower() {
        EngineException cuda =
                new EngineException("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity"
                        + " of 79.15 GiB of which 1.2 GiB is free.\nException raised from malloc at ../c10/cuda/CUDACachingAllocator.cpp:1\n"
                        + "frame #0: c10::Error::Error(...)");
        assertTrue(DeviceMemory.isOutOfMemory(new RuntimeException("wrapped", cuda)));
        assertFalse(DeviceMemory.isOutOfMemory(new EngineException("shape mismatch")));
        String m = DeviceMemory.outOfMemory(cuda).getMessage();
        assertTrue(m.startsWith("out of GPU memory (CUDA out of memory. Tried to allocate 2.00 GiB."), m);
        for (String key : new String[] {
            "training.batch_size",
            "data.max_length",
            "training.loss_chunk_size",
            "training.gradient_checkpointing",
            "--resume"
        }) {
            assertTrue(m.contains(key), key + " in " + m);
        }
        assertFalse(m.contains("\n") || m.contains("frame #0"), m);
    }
}
