package dev.paft.bench;

import dev.paft.merge.TruncatedSvd;
import java.util.Random;

/**
 * Speed of the --lora-out SVDs on one 4096 x 4096 matrix at rank 32 (docs/merging.md, "LoRA output"):
 * the factored path (two rank-16 adapters, QR of the stacked factors) and the dense path (randomized
 * SVD of a formed 4096 x 4096 delta, sketch 42, 3 power iterations). The dense products run in 8 row blocks on the common fork-join pool; best of 3.
 *
 * <pre>java -cp target/classes:target/test-classes dev.paft.bench.LoraSvdBench</pre>
 */
public final class LoraSvdBench {
    private LoraSvdBench() {}

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 4096;
        int k = 32;
        Random r = new Random(1);
        double[] b = new double[n * k];
        double[] a = new double[k * n];
        for (int i = 0; i < b.length; i++) {
            b[i] = r.nextGaussian() * 0.01;
            a[i] = r.nextGaussian() * 0.01;
        }
        double best = Double.MAX_VALUE;
        TruncatedSvd.Svd f = null;
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            f = TruncatedSvd.ofProduct(b, a, n, k, n);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        System.out.printf(
                "factored %dx%d rank %d (QR of stacked factors + %dx%d Jacobi): %.3f s (sigma_1 %.4g, sigma_%d %.4g)%n",
                n, n, k, k, k, best, f.s()[0], k, f.s()[k - 1]);
        float[] dense = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int l = 0; l < k; l++) {
                double x = b[i * k + l];
                for (int j = 0; j < n; j++) {
                    dense[i * n + j] += (float) (x * a[l * n + j]);
                }
            }
        }
        for (int i = 0; i < dense.length; i++) {
            dense[i] += (float) (r.nextGaussian() * 1e-6); // a small full-rank tail, as a sparsified delta has
        }
        best = Double.MAX_VALUE;
        TruncatedSvd.Svd d = null;
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            d = TruncatedSvd.randomized(dense, n, n, k + 10, 3, 7);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        double maxRel = 0;
        for (int j = 0; j < k; j++) {
            maxRel = Math.max(maxRel, Math.abs(d.s()[j] - f.s()[j]) / f.s()[j]);
        }
        System.out.printf(
                "dense %dx%d, sketch %d, 3 power iterations: %.3f s; top-%d singular values vs factored: max rel diff %.2g%n",
                n, n, k + 10, best, k, maxRel);
    }
}
