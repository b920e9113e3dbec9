package dev.paft.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.Utils;
import dev.paft.errors.PaftException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The engine starts offline from the bundled natives; CUDA on a CPU machine is a clear exit 2, auto the CPU. */
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
            NDArray x = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
            assertEquals(52f, x.matMul(x.transpose()).sum().getFloat(), 0f); // [[5, 11], [11, 25]]
        }
        assertEquals(Device.cpu(), Engines.start(" CPU ", 0), "second start reuses the engine");
        assertEquals(Device.cpu(), Engines.cpu());
    }

    /** DJL and JavaCPP share one libtorch: DJL's library folder is the bootstrap's, one libtorch_cpu is mapped. */
    @Test
    void oneLibtorchForDjlAndJavacpp() throws Exception {
        Engines.start("cpu", 2);
        assertTrue(TorchBootstrap.isLoaded());
        String djlDir = LibUtils.getLibtorchPath();
        assertEquals(Path.of(System.getProperty("PYTORCH_LIBRARY_PATH")).toAbsolutePath(), Path.of(djlDir));
        Set<String> mapped = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            if (line.endsWith("libtorch_cpu.so") || line.contains("libtorch_cpu.so ")) {
                mapped.add(line.substring(line.indexOf('/')));
            }
        }
        assertEquals(1, mapped.size(), "libtorch_cpu.so mapped from " + mapped);
        assertTrue(mapped.iterator().next().contains(".javacpp"), mapped.toString());
        assertEquals(2, org.bytedeco.pytorch.global.torch.get_num_threads(), "intra-op threads set explicitly");
    }

    /**
     * Asking for CUDA where none is usable is exit 2 with the reason, never a silent CPU run: the CPU-only jar names
     * the Maven profile; a GPU build without a driver or GPU (a {@code mvn -Pcuda test} on a CPU machine) names that.
     */
    @Test
    void cudaOnACpuMachineIsAUsageError() {
        Engines.start("cpu", 2);
        Assumptions.assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "machine has a GPU");
        boolean gpuBuild = TorchBootstrap.cudaNativesOnClasspath();
        assertEquals(gpuBuild, TorchBootstrap.isCudaBuild());
        for (String dev : new String[] {"cuda", "cuda:0", "gpu", "CUDA:1"}) {
            PaftException ex = assertThrows(PaftException.class, () -> Engines.start(dev, 0));
            assertEquals(PaftException.USAGE, ex.exitCode());
            String m = ex.getMessage();
            assertTrue(m.startsWith("--device " + dev + ": "), m);
            assertTrue(m.endsWith("or use --device cpu"), m);
            if (gpuBuild) {
                assertTrue(
                        m.contains("no NVIDIA driver")
                                || m.contains("too old")
                                || m.contains("no usable GPU")
                                || m.contains("hides every GPU"),
                        m);
            } else {
                assertEquals(CudaUnavailable.cpuOnlyBuild(dev), m);
                assertTrue(m.contains("CPU-only build") && m.contains("mvn -Pcuda"), m);
            }
        }
    }

    /** {@code --device auto}: the CPU here (no usable GPU), with no error; the dry run's plan names the same. */
    @Test
    void autoPicksTheCpuWithoutAGpu() {
        Engines.start("cpu", 2);
        Assumptions.assumeTrue(Engine.getEngine("PyTorch").getGpuCount() == 0, "machine has a GPU");
        assertEquals(Device.cpu(), Engines.start("auto", 0));
        assertEquals(Device.cpu(), Engines.start(" AUTO ", 0));
        assertEquals(Device.cpu(), Engines.check("auto", 0));
        assertEquals(Device.gpu(0), Engines.check("cuda", 0), "a dry run plans for the device named");
        assertEquals(Device.gpu(2), Engines.check("cuda:2", 0));
        assertEquals(Device.cpu(), Engines.check("cpu", 0));
    }

    @Test
    void badDeviceStringsFailBeforeTheEngineStarts() {
        for (String dev :
                new String[] {"tpu", "cuda:", "cuda:x", "cuda:-1", "cuda0", "", "cpu:0", "cuda:99999999999"}) {
            PaftException ex = assertThrows(PaftException.class, () -> Engines.parseDevice(dev));
            assertEquals(PaftException.USAGE, ex.exitCode(), dev);
            assertTrue(ex.getMessage().contains("expected cpu, cuda, cuda:N or auto"), ex.getMessage());
            ex = assertThrows(PaftException.class, () -> Engines.start(dev, 1));
            assertEquals(PaftException.USAGE, ex.exitCode(), dev);
        }
        assertEquals(-1, Engines.parseDevice("cpu"));
        assertEquals(0, Engines.parseDevice("cuda"));
        assertEquals(3, Engines.parseDevice("cuda:3"));
        assertEquals(
                PaftException.USAGE,
                assertThrows(PaftException.class, () -> Engines.start("cpu", -1))
                        .exitCode());
    }
}
