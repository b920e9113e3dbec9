package dev.paft.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.util.Utils;
import dev.paft.errors.PaftException;
import org.junit.jupiter.api.Test;

/** The engine starts offline from the bundled CPU natives; CUDA on a CPU machine is a clear exit 2. */
class EnginesTest {
    @Test
    void cpuStartsOfflineAndComputes() {
        Device d = Engines.start("cpu", 2);
        assertEquals(Device.cpu(), d);
        assertTrue(Utils.isOfflineMode(), "DJL offline mode is on");
        Engine e = Engine.getEngine("PyTorch");
        assertEquals("PyTorch", e.getEngineName());
        assertTrue(e.getVersion().startsWith("2.7.1"), e.getVersion());
        try (NDManager m = NDManager.newBaseManager(d)) {
            NDArray x = m.create(new float[] {1, 2, 3, 4}, new ai.djl.ndarray.types.Shape(2, 2));
            assertEquals(52f, x.matMul(x.transpose()).sum().getFloat(), 0f); // [[5, 11], [11, 25]]
        }
        assertEquals(Device.cpu(), Engines.start(" CPU ", 0), "second start reuses the engine");
        assertEquals(Device.cpu(), Engines.cpu());
    }

    @Test
    void cudaOnACpuMachineIsAUsageError() {
        Engines.start("cpu", 2);
        org.junit.jupiter.api.Assumptions.assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "machine has a GPU");
        for (String dev : new String[] {"cuda", "cuda:0", "gpu", "CUDA:1"}) {
            PaftException ex = assertThrows(PaftException.class, () -> Engines.start(dev, 0));
            assertEquals(PaftException.USAGE, ex.exitCode());
            assertTrue(ex.getMessage().contains("--device " + dev), ex.getMessage());
            assertTrue(ex.getMessage().contains("no CUDA GPU"), ex.getMessage());
            assertTrue(ex.getMessage().contains("CPU-only build"), ex.getMessage());
        }
    }

    @Test
    void badDeviceStringsFailBeforeTheEngineStarts() {
        for (String dev : new String[] {"tpu", "cuda:", "cuda:x", "cuda:-1", "cuda0", "", "cpu:0", "cuda:99999999999"}) {
            PaftException ex = assertThrows(PaftException.class, () -> Engines.parseDevice(dev));
            assertEquals(PaftException.USAGE, ex.exitCode(), dev);
            assertTrue(ex.getMessage().contains("expected cpu, cuda or cuda:N"), ex.getMessage());
            ex = assertThrows(PaftException.class, () -> Engines.start(dev, 1));
            assertEquals(PaftException.USAGE, ex.exitCode(), dev);
        }
        assertEquals(-1, Engines.parseDevice("cpu"));
        assertEquals(0, Engines.parseDevice("cuda"));
        assertEquals(3, Engines.parseDevice("cuda:3"));
        assertEquals(PaftException.USAGE, assertThrows(PaftException.class, () -> Engines.start("cpu", -1)).exitCode());
    }
}
