package dev.paft.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/** DJL arrays and JavaCPP tensors share storage and autograd; ownership moves without leaks or double frees. */
class TorchBridgeTest {

    /** A view shares storage: writing through DJL shows in the view, and the adopted result is a DJL array. */
    @Test
    void viewSharesStorageAndAdoptedResultsAreDjlArrays() {
        Engines.start("cpu", 2);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
            try (Tensor v = Torch.view(a)) {
                a.set(new NDIndex("0, 0"), 10f);
                NDArray twice = Torch.adopt(v.add(v), m); // JavaCPP op, DJL owner
                assertArrayEquals(new float[] {20, 4, 6, 8}, twice.toFloatArray(), 0f);
                assertEquals(DataType.FLOAT32, twice.getDataType());
            }
            assertSame(a, Torch.cast(a, Torch.Dtype.F32), "no-op cast returns the array itself");
            NDArray bf = Torch.cast(a, Torch.Dtype.BF16);
            assertEquals(Torch.Dtype.BF16, Torch.dtype(bf));
            NDArray back = Torch.cast(bf, Torch.Dtype.F32);
            assertArrayEquals(new float[] {10, 2, 3, 4}, back.toFloatArray(), 0f); // exact in bf16
        }
    }

    /**
     * A bf16 cast keeps autograd (DJL's toType would detach): d/dx sum(cast(x)^2 as bf16) = 2x, gradient in f32;
     * the values are bf16-exact so the gradient is exact.
     */
    @Test
    void castKeepsAutograd() {
        Engines.start("cpu", 2);
        try (NDManager m = NDManager.newBaseManager();
                GradMode g = GradMode.on()) {
            NDArray x = m.create(new float[] {0.5f, -1.25f, 3f});
            x.setRequiresGradient(true);
            NDArray xb = Torch.cast(x, Torch.Dtype.BF16);
            NDArray y = Torch.cast(xb.mul(xb).sum(), Torch.Dtype.F32);
            Torch.backward(y, m.ones(new Shape()));
            assertArrayEquals(new float[] {1f, -2.5f, 6f}, x.getGradient().toFloatArray(), 0f);
        }
    }

    /** The scope restores what it found, nested and on exceptions. */
    @Test
    void gradModeScopeRestores() {
        Engines.start("cpu", 2);
        boolean start = GradMode.enabled();
        try (GradMode a = GradMode.on()) {
            assertTrue(GradMode.enabled());
            try (GradMode b = GradMode.off()) {
                assertFalse(GradMode.enabled());
            }
            assertTrue(GradMode.enabled());
            try (GradMode c = GradMode.off()) {
                throw new IllegalStateException("x");
            } catch (IllegalStateException expected) {
                assertTrue(GradMode.enabled());
            }
        }
        assertEquals(start, GradMode.enabled());
    }

    /**
     * 3000 round trips (DJL array -> JavaCPP view -> bf16 cast, JavaCPP op -> adopted by DJL -> DJL op -> closed),
     * under autograd with a backward each time, keep the process's resident memory flat: each iteration allocates
     * about 1.5 MB, so a leak of one tensor per iteration would add > 700 MB; the bound is 64 MB.
     */
    @Test
    void interopLoopKeepsNativeMemoryFlat() throws IOException {
        Engines.start("cpu", 2);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = m.randomNormal(new Shape(256, 256));
            w.setRequiresGradient(true);
            long before = 0;
            for (int i = 0; i < 3000; i++) {
                if (i == 300) {
                    System.gc();
                    before = rssKb();
                }
                try (NDManager step = m.newSubManager();
                        GradMode g = GradMode.on()) {
                    NDArray x = step.randomNormal(new Shape(256, 256));
                    NDArray xb = Torch.cast(x, Torch.Dtype.BF16);
                    NDArray wb = Torch.cast(w, Torch.Dtype.BF16, step); // on the step, not on w's long-lived manager
                    NDArray h = xb.matMul(wb);
                    NDArray s = Torch.sdpa(
                            h.reshape(1, 4, 64, 256),
                            h.reshape(1, 4, 64, 256),
                            h.reshape(1, 4, 64, 256),
                            null,
                            true,
                            0.0625);
                    NDArray loss = Torch.cast(s, Torch.Dtype.F32).square().mean();
                    Torch.backward(loss, step.ones(new Shape()));
                    NDArray grad = w.getGradient();
                    grad.attach(step);
                    Torch.zeroGrad(w);
                }
            }
            System.gc();
            long after = rssKb();
            assertTrue(
                    after - before < 64 * 1024,
                    "RSS grew from " + before + " kB to " + after + " kB over 2700 iterations");
        }
    }

    static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }
}
