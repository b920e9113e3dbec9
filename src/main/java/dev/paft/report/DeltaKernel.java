package dev.paft.report;

import dev.paft.errors.Futures;
import dev.paft.io.DType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;

/**
 * Statistics of one module's delta computed tile by tile, never holding the whole delta: for a LoRA
 * pair {@code delta = B @ A} ([out, r] x [r, in]) and for a full weight {@code delta = model - base}.
 *
 * <p>A LoRA tile is {@code delta[i, j0:j0+TILE] = sum_k B[i, k] * A[k, j0:j0+TILE]}, accumulated in
 * float32 over k in order and skipping {@code B[i, k] == 0} exactly like
 * {@link dev.paft.io.PeftAdapter#delta}, so every element is bit-identical to that reference.
 * Work is split into fixed row (or element) blocks whose results pool in block order, so the
 * numbers do not depend on the thread count. Memory: one tile buffer per thread.
 */
final class DeltaKernel {
    /** Columns per tile: a tile row (4 KiB) and the A tile (r x 4 KiB) stay in cache. */
    static final int TILE = 1024;
    /** Rows of B per task. */
    static final int ROW_BLOCK = 128;
    /** Elements per task for model - base. */
    static final int ELEMENT_BLOCK = 1 << 20;
    /** Histogram bins: the float bits of |delta| shifted right by 20 (8-bit exponent, 3 mantissa bits). */
    static final int HIST_BINS = 1 << 11;

    static final int HIST_SHIFT = 20;

    private DeltaKernel() {}

    /** Running statistics of one task; {@code cutoffs} are compared as {@code |delta| < cutoff}. */
    static final class Acc {
        final float[] cutoffs;
        final long[] below;
        final long[] hist;
        long numel;
        double l1;
        double sumSquares;
        float maxAbs;

        Acc(float[] cutoffs, boolean histogram) {
            this.cutoffs = cutoffs;
            this.below = new long[cutoffs.length];
            this.hist = histogram ? new long[HIST_BINS] : null;
        }

        /** Adds buf[0..n) (overwritten with |buf|). */
        void add(float[] buf, int n) {
            // 1. |delta|, L1, L2^2 and max in one pass; four float accumulators per tile (at most TILE
            //    elements) to break the add chains, pooled in double across tiles. NaN/Inf reach l1.
            float l0 = 0, l1s = 0, l2s = 0, l3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
            float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
            int j = 0;
            for (; j + 3 < n; j += 4) {
                float v0 = Math.abs(buf[j]);
                float v1 = Math.abs(buf[j + 1]);
                float v2 = Math.abs(buf[j + 2]);
                float v3 = Math.abs(buf[j + 3]);
                buf[j] = v0;
                buf[j + 1] = v1;
                buf[j + 2] = v2;
                buf[j + 3] = v3;
                l0 += v0;
                l1s += v1;
                l2s += v2;
                l3 += v3;
                q0 += v0 * v0;
                q1 += v1 * v1;
                q2 += v2 * v2;
                q3 += v3 * v3;
                m0 = v0 > m0 ? v0 : m0;
                m1 = v1 > m1 ? v1 : m1;
                m2 = v2 > m2 ? v2 : m2;
                m3 = v3 > m3 ? v3 : m3;
            }
            for (; j < n; j++) {
                float v = Math.abs(buf[j]);
                buf[j] = v;
                l0 += v;
                q0 += v * v;
                m0 = v > m0 ? v : m0;
            }
            l1 += (double) l0 + l1s + l2s + l3;
            sumSquares += (double) q0 + q1 + q2 + q3;
            maxAbs = Math.max(maxAbs, Math.max(Math.max(m0, m1), Math.max(m2, m3)));
            numel += n;
            // 2. one counting pass per cutoff over the cached tile
            for (int t = 0; t < cutoffs.length; t++) {
                float c = cutoffs[t];
                int cnt = 0;
                for (int i = 0; i < n; i++) {
                    cnt += buf[i] < c ? 1 : 0;
                }
                below[t] += cnt;
            }
            // 3. optional histogram of |delta| by float bits (monotone in |delta|)
            if (hist != null) {
                for (int i = 0; i < n; i++) {
                    hist[Float.floatToRawIntBits(buf[i]) >>> HIST_SHIFT]++;
                }
            }
        }

        void plus(Acc o) {
            numel += o.numel;
            l1 += o.l1;
            sumSquares += o.sumSquares;
            maxAbs = Math.max(maxAbs, o.maxAbs);
            for (int t = 0; t < below.length; t++) {
                below[t] += o.below[t];
            }
            if (hist != null) {
                for (int i = 0; i < hist.length; i++) {
                    hist[i] += o.hist[i];
                }
            }
        }
    }

    /**
     * Statistics of {@code delta = B @ A} with B [out, r] and A [r, in], both row-major float32.
     */
    static Acc lora(
            float[] a, float[] b, int out, int r, int in, float[] cutoffs, boolean histogram, ExecutorService pool) {
        List<Callable<Acc>> tasks = new ArrayList<>();
        for (int r0 = 0; r0 < out; r0 += ROW_BLOCK) {
            int from = r0;
            int to = Math.min(out, r0 + ROW_BLOCK);
            tasks.add(() -> {
                Acc acc = new Acc(cutoffs, histogram);
                float[] buf = new float[TILE];
                float[] bk = new float[r];
                int[] ak = new int[r];
                for (int j0 = 0; j0 < in; j0 += TILE) {
                    int w = Math.min(TILE, in - j0);
                    for (int i = from; i < to; i++) {
                        // delta[i, j0:j0+w] = sum_k B[i, k] * A[k, j0:j0+w] over the nonzero B[i, k], in k order
                        int nz = 0;
                        for (int k = 0; k < r; k++) {
                            float bik = b[i * r + k];
                            if (bik != 0f) {
                                bk[nz] = bik;
                                ak[nz++] = k * in + j0;
                            }
                        }
                        Arrays.fill(buf, 0, w, 0f);
                        int q = 0;
                        for (; q + 3 < nz; q += 4) {
                            // four k per sweep: same additions in the same order, a quarter of the buf traffic
                            float c0 = bk[q], c1 = bk[q + 1], c2 = bk[q + 2], c3 = bk[q + 3];
                            int o0 = ak[q], o1 = ak[q + 1], o2 = ak[q + 2], o3 = ak[q + 3];
                            for (int j = 0; j < w; j++) {
                                float s = buf[j];
                                s += c0 * a[o0 + j];
                                s += c1 * a[o1 + j];
                                s += c2 * a[o2 + j];
                                s += c3 * a[o3 + j];
                                buf[j] = s;
                            }
                        }
                        for (; q < nz; q++) {
                            float c0 = bk[q];
                            int o0 = ak[q];
                            for (int j = 0; j < w; j++) {
                                buf[j] += c0 * a[o0 + j];
                            }
                        }
                        acc.add(buf, w);
                    }
                }
                return acc;
            });
        }
        return run(tasks, cutoffs, histogram, pool);
    }

    /**
     * Statistics of {@code delta = model - base} over n elements of two little-endian tensors
     * (any float dtype, widened to float32; the difference is taken in float32).
     */
    static Acc diff(
            ByteBuffer model,
            DType modelType,
            ByteBuffer base,
            DType baseType,
            long n,
            float[] cutoffs,
            boolean histogram,
            ExecutorService pool) {
        List<Callable<Acc>> tasks = new ArrayList<>();
        for (long e0 = 0; e0 < n; e0 += ELEMENT_BLOCK) {
            long from = e0;
            long to = Math.min(n, e0 + ELEMENT_BLOCK);
            tasks.add(() -> {
                Acc acc = new Acc(cutoffs, histogram);
                float[] m = new float[TILE];
                float[] w = new float[TILE];
                for (long e = from; e < to; e += TILE) {
                    int len = (int) Math.min(TILE, to - e);
                    modelType.toFloats(model.duplicate().position((int) (e * modelType.size())), m, 0, len);
                    baseType.toFloats(base.duplicate().position((int) (e * baseType.size())), w, 0, len);
                    for (int j = 0; j < len; j++) {
                        m[j] -= w[j];
                    }
                    acc.add(m, len);
                }
                return acc;
            });
        }
        return run(tasks, cutoffs, histogram, pool);
    }

    /** Runs the tasks (on the pool when given) and pools their results in task order. */
    private static Acc run(List<Callable<Acc>> tasks, float[] cutoffs, boolean histogram, ExecutorService pool) {
        Acc total = new Acc(cutoffs, histogram);
        List<Future<Acc>> futures = new ArrayList<>();
        for (Callable<Acc> t : tasks) {
            if (pool != null) {
                futures.add(pool.submit(t));
            } else {
                FutureTask<Acc> f = new FutureTask<>(t);
                f.run(); // on this thread, in order
                futures.add(f);
            }
        }
        for (Future<Acc> f : futures) {
            total.plus(Futures.get(f));
        }
        return total;
    }

    /** The smallest float c with {@code (double) c >= t}: for a float x, {@code x < t} iff {@code x < c}. */
    static float cutoff(double t) {
        float c = (float) t;
        return (double) c < t ? Math.nextUp(c) : c;
    }

    /**
     * The cutoff on the unscaled |delta| x that selects exactly the elements whose scaled value
     * {@code fl(x * scale)} (float32, PEFT's {@code (B @ A) * scaling}) is below {@code t}: the
     * smallest x with {@code fl(x * |scale|) >= cutoff(t)}, found from {@code t / scale} by stepping
     * one ulp at a time (float multiplication by a positive constant is monotone).
     */
    static float scaledCutoff(double t, float scale) {
        float s = Math.abs(scale);
        float c = cutoff(t);
        if (s == 0f) {
            return Float.POSITIVE_INFINITY; // every scaled element is 0
        }
        float g = (float) (c / (double) s);
        while (g > 0f && Math.nextDown(g) * s >= c) {
            g = Math.nextDown(g);
        }
        while (g * s < c) {
            g = Math.nextUp(g);
        }
        return g;
    }
}
