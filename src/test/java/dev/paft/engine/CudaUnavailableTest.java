package dev.paft.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.engine.CudaUnavailable.Facts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --device cuda} without a usable GPU: one line per cause, naming what to do (the CPU-only jar, an external
 * CPU libtorch, no driver, an old driver, hidden or missing GPUs), and the GPU build's check of the system CUDA
 * libraries it needs. Pure functions: every branch runs on a CPU machine.
 */
class CudaUnavailableTest {
    @TempDir
    Path tmp;

    private static final String PROBE_35 =
            "Failed to detect GPU count: CUDA driver version is insufficient for CUDA runtime version (35)";

    @Test
    void cpuOnlyBuildNamesTheMavenProfile() {
        String m = CudaUnavailable.message("cuda", new Facts(false, null, null, true, PROBE_35, null));
        assertEquals(CudaUnavailable.cpuOnlyBuild("cuda"), m);
        assertTrue(m.startsWith("--device cuda: this paft jar is the CPU-only build"), m);
        assertTrue(m.contains("mvn -Pcuda -DskipTests package") && m.endsWith("or use --device cpu"), m);
        assertFalse(m.contains("insufficient"), "a CPU-only jar's problem is not the driver: " + m);
    }

    @Test
    void externalCpuLibtorchNamesTheVariables() {
        String m = CudaUnavailable.message("cuda:1", new Facts(false, "/opt/torch/lib", "cpu", false, null, null));
        assertTrue(
                m.startsWith("--device cuda:1: the libtorch in PYTORCH_LIBRARY_PATH=/opt/torch/lib is a CPU build"
                        + " (PYTORCH_FLAVOR=cpu)"),
                m);
        assertTrue(m.contains("unset them") && m.contains("mvn -Pcuda"), m);
        // DJL's default flavor is cpu: unset or blank counts as cpu, cu128 etc. do not
        assertTrue(CudaUnavailable.message("cuda", new Facts(false, "/t", null, true, null, null))
                .contains("is a CPU build (PYTORCH_FLAVOR=null)"));
        for (String cpu : new String[] {"cpu", "CPU", " cpu-precxx11", ""}) {
            assertTrue(Engines.cpuFlavor(cpu), cpu);
        }
        for (String gpu : new String[] {"cu128", "cu121-precxx11", "cu130"}) {
            assertFalse(Engines.cpuFlavor(gpu), gpu);
        }
    }

    @Test
    void gpuBuildWithoutDriver() {
        // what this machine reports: libcuda.so.1 absent, the runtime says "insufficient" (error 35) all the same
        String m = CudaUnavailable.message("cuda", new Facts(true, null, null, false, PROBE_35, null));
        assertTrue(m.startsWith("--device cuda: no NVIDIA driver on this machine (libcuda.so.1 cannot be loaded)"), m);
        assertTrue(m.contains("this GPU build (CUDA 12.9)") && m.contains("R525"), m);
        assertFalse(m.contains("too old"), m);
        String ext = CudaUnavailable.message("cuda", new Facts(false, "/x", "cu128", false, null, null));
        assertTrue(
                ext.contains("no NVIDIA driver") && ext.contains("the CUDA libtorch in PYTORCH_LIBRARY_PATH=/x"), ext);
    }

    @Test
    void gpuBuildWithAnOldDriver() {
        String m = CudaUnavailable.message("cuda", new Facts(true, null, null, true, PROBE_35, null));
        assertTrue(m.startsWith("--device cuda: the NVIDIA driver is too old for this GPU build (CUDA 12.9)"), m);
        assertTrue(m.contains("(35)") && m.contains("update it"), m);
    }

    @Test
    void hiddenOrMissingGpus() {
        for (String v : new String[] {"", "-1", " -1,0"}) {
            String m = CudaUnavailable.message("cuda", new Facts(true, null, null, true, "no CUDA-capable device", v));
            assertTrue(m.startsWith("--device cuda: CUDA_VISIBLE_DEVICES=\"" + v + "\" hides every GPU"), m);
        }
        String m = CudaUnavailable.message(
                "cuda", new Facts(true, null, null, true, "no CUDA-capable device is detected (100)", "0"));
        assertTrue(m.startsWith("--device cuda: the NVIDIA driver is installed but sees no usable GPU"), m);
        assertTrue(m.contains("(100)") && m.contains("CUDA_VISIBLE_DEVICES=\"0\"") && m.contains("nvidia-smi"), m);
    }

    /** The GPU build's preflight: a library is found in a folder, the library path, or the loader's cache. */
    @Test
    void missingCudaLibrariesAreNamed() throws IOException {
        Path redist = Files.createDirectories(tmp.resolve("redist"));
        Path extra = Files.createDirectories(tmp.resolve("extra"));
        Files.writeString(redist.resolve("libcublas.so.12"), "");
        Files.writeString(extra.resolve("libcudnn.so.9"), "");
        Path cache = tmp.resolve("ld.so.cache");
        Files.write(
                cache,
                "glibc-ld.so.cache1.1\0libcusparse.so.12\0/usr/lib/x86_64-linux-gnu/libcusparse.so.12\0libcublasLt.so.12.9\0"
                        .getBytes(StandardCharsets.ISO_8859_1));
        List<String> names = List.of("libcublas.so.12", "libcudnn.so.9", "libcusparse.so.12", "libcublasLt.so.12");
        assertEquals(
                List.of("libcublasLt.so.12"), // libcublasLt.so.12.9 is another file name
                TorchBootstrap.missingLibraries(names, List.of(redist), "/nowhere:" + extra, cache));
        assertEquals(
                List.of("libcudnn.so.9", "libcusparse.so.12", "libcublasLt.so.12"),
                TorchBootstrap.missingLibraries(names, List.of(redist), null, tmp.resolve("no-cache")));
        String m = TorchBootstrap.cudaLibsMissing(List.of("libcublas.so.12", "libcudnn.so.9"));
        assertTrue(
                m.startsWith("this GPU build's libtorch (CUDA 12.9) needs libcublas.so.12, libcudnn.so.9, not found"),
                m);
        assertTrue(m.contains("pip install nvidia-cublas-cu12") && m.contains("LD_LIBRARY_PATH"), m);
        assertEquals(9, TorchBootstrap.SYSTEM_CUDA_LIBS.size());
    }
}
