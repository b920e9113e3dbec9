package dev.paft.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code training.tf32} reaches libtorch's {@code at::Context} (read back through JavaCPP: the cuBLAS and cuDNN
 * switches and the float32 matmul precision) and leaves float32 math on the CPU bit for bit unchanged.
 */
class Tf32Test {
    @AfterEach
    void restoreLibtorchDefaults() {
        // libtorch starts with cuBLAS TF32 off (precision "highest") and cuDNN TF32 on
        torch.globalContext().setAllowTF32CuBLAS(false);
        torch.globalContext().setAllowTF32CuDNN(true);
    }

    @Test
    void settingReachesTheContext() {
        Device cpu = Engines.start("cpu", 2);
        assertTrue(TorchBootstrap.bridgeAvailable());
        Tf32.apply(true, cpu, null);
        assertTrue(Tf32.cublasAllowed());
        assertTrue(Tf32.cudnnAllowed());
        assertEquals(
                torch.Float32MatmulPrecision.HIGH,
                torch.globalContext().float32MatmulPrecision().intern());
        Tf32.apply(false, cpu, null);
        assertFalse(Tf32.cublasAllowed());
        assertFalse(Tf32.cudnnAllowed());
        assertEquals(
                torch.Float32MatmulPrecision.HIGHEST,
                torch.globalContext().float32MatmulPrecision().intern());
        Tf32.apply(true, Device.gpu(0), null); // a GPU run sets the same switches (read back without a GPU)
        assertTrue(Tf32.cublasAllowed());
        Tf32.apply(null, cpu, null); // null leaves libtorch as it is
        assertTrue(Tf32.cublasAllowed());
    }

    @Test
    void cpuFloat32MathIsUnchanged() {
        Device cpu = Engines.start("cpu", 2);
        SplittableRandom r = new SplittableRandom(7);
        float[] a = new float[256 * 384];
        float[] b = new float[384 * 192];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) (r.nextDouble() * 2 - 1);
        }
        try (NDManager m = NDManager.newBaseManager(cpu)) {
            NDArray x = m.create(a, new Shape(256, 384));
            NDArray y = m.create(b, new Shape(384, 192));
            Tf32.apply(false, cpu, null);
            float[] exact = x.matMul(y).toFloatArray();
            Tf32.apply(true, cpu, null);
            float[] tf32 = x.matMul(y).toFloatArray();
            assertArrayEquals(exact, tf32, "TF32 on changes no CPU float32 matmul bit");
            // and the product is float32-exact: one entry against a double-precision dot product
            double dot = 0;
            for (int k = 0; k < 384; k++) {
                dot += (double) a[5 * 384 + k] * b[k * 192 + 7];
            }
            assertEquals(dot, exact[5 * 192 + 7], 1e-4);
        }
    }

    /**
     * libtorch latched the override in this JVM (off: the read-backs above), so false against a set variable is
     * checked by reading back; a fresh JVM with the variable set is {@code ExternalModeTest}'s and the CLI test's.
     */
    @Test
    void trueAgreesWithTheEnvironmentOverride() {
        Engines.start("cpu", 2);
        Tf32.apply(true, Device.gpu(0), "1");
        assertTrue(Tf32.cublasAllowed());
    }
}
