package dev.paft.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.engine.Engines;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Whether float32 matmuls on a device run in TF32 (scripts/bench/gpu.sh runs it with and without
 * {@code TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1}): an N x N x N matmul of seeded uniform(-1, 1) values, its median
 * time over REPS runs, and the largest relative error of 64 result rows against a float64 reference computed in
 * Java. Exact float32 stays near 1e-6; TF32 (10 mantissa bits inside the product) gives about 1e-3.
 *
 * <pre>java -cp ... dev.paft.bench.Tf32Check [N] [REPS] [DEVICE]</pre>
 * Prints {@code RESULT kind=tf32 override=<env> n=N ms=<median> gflops=<rate> max_rel_err=<err>}.
 */
public final class Tf32Check {
    private Tf32Check() {}

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        Device dev = Engines.start(args.length > 2 ? args[2] : "cuda", 0);
        SplittableRandom rng = new SplittableRandom(5);
        float[] a = new float[n * n];
        float[] b = new float[n * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (2 * rng.nextDouble() - 1);
            b[i] = (float) (2 * rng.nextDouble() - 1);
        }
        try (NDManager m = NDManager.newBaseManager(dev)) {
            NDArray x = m.create(a, new Shape(n, n));
            NDArray y = m.create(b, new Shape(n, n));
            double[] ms = new double[reps];
            NDArray c = null;
            x.matMul(y).toFloatArray(); // warm-up (cuBLAS handles, kernels)
            for (int r = 0; r < reps; r++) {
                if (c != null) {
                    c.close();
                }
                long t0 = System.nanoTime();
                c = x.matMul(y);
                c.get(0, 0).toFloatArray(); // waits for the kernel
                ms[r] = (System.nanoTime() - t0) / 1e6;
            }
            float[] got = c.toFloatArray();
            double worst = 0;
            int rows = Math.min(64, n);
            for (int i = 0; i < rows; i++) {
                int row = (int) ((long) i * n / rows);
                for (int j = 0; j < n; j++) {
                    double want = 0;
                    double mag = 0;
                    for (int k = 0; k < n; k++) {
                        double p = (double) a[row * n + k] * b[k * n + j];
                        want += p;
                        mag += Math.abs(p);
                    }
                    worst = Math.max(worst, Math.abs(got[row * n + j] - want) / mag); // error relative to sum |a b|
                }
            }
            Arrays.sort(ms);
            double med = ms[reps / 2];
            System.out.printf(
                    Locale.ROOT,
                    "RESULT kind=tf32 device=%s override=%s n=%d ms=%.3f gflops=%.0f max_rel_err=%.3e%n",
                    dev,
                    System.getenv().getOrDefault("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "unset"),
                    n,
                    med,
                    2.0 * n * n * n / (med * 1e6),
                    worst);
        }
    }
}
