package dev.paft.merge;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Singular value decompositions for {@code paft merge --lora-out}, in double precision, in plain Java
 * (DJL's NDArray has no SVD or QR, and its PyTorch JNI exposes no {@code torch.linalg}; see
 * docs/merging.md, "LoRA output").
 *
 * <ul>
 *   <li>{@link #qr}: thin Householder QR, {@code A = Q R}; Q stays orthonormal when A is rank deficient.</li>
 *   <li>{@link #jacobi}: one-sided Jacobi SVD (Hestenes): plane rotations orthogonalize the columns of
 *       an m x n matrix (m >= n) until every pair is orthogonal to working precision; column norms are
 *       the singular values, accurate to a few ulps relative to the largest.</li>
 *   <li>{@link #ofProduct}: the SVD of {@code B A} (B [m, k], A [k, n], k small) without forming the
 *       m x n matrix: {@code B = Qb Rb}, {@code A^T = Qa Ra}, SVD of the k x k core {@code Rb Ra^T}.</li>
 *   <li>{@link #randomized}: the leading singular triplets of a dense matrix by a randomized range
 *       finder with power iterations (Halko, Martinsson and Tropp 2011, algorithms 4.4 and 5.1); the
 *       approximation {@code Q Q^T M} it truncates is an orthogonal projection of M, so the error of the
 *       kept part is exactly {@code ||M||^2 - sum of kept sigma^2} (Pythagoras), whatever the sketch.</li>
 * </ul>
 * Matrices are row-major {@code double[]} (or {@code float[]} for the dense input).
 */
public final class TruncatedSvd {
    private TruncatedSvd() {}

    /** A factorization {@code M ~ U diag(s) V^T}: U [m, k], s descending, Vt [k, n]. */
    public record Svd(int m, int n, double[] u, double[] s, double[] vt) {
        public int k() {
            return s.length;
        }
    }

    /** Thin QR of A [m, n] (m >= n): Q [m, n] with orthonormal columns, R [n, n] upper triangular. */
    public record Qr(double[] q, double[] r) {}

    /** Householder QR of a row-major m x n matrix, m >= n. {@code a} is not modified. */
    public static Qr qr(double[] a, int m, int n) {
        if (m < n) {
            throw new IllegalArgumentException("qr needs m >= n, got " + m + " x " + n);
        }
        // work column-major: column j is w[j*m .. j*m+m)
        double[] w = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                w[j * m + i] = a[i * n + j];
            }
        }
        double[] vs = new double[m * n]; // Householder vectors, column j in vs[j*m + j .. ]
        double[] beta = new double[n];
        for (int j = 0; j < n; j++) {
            int cj = j * m;
            double norm = 0;
            for (int i = j; i < m; i++) {
                norm = Math.hypot(norm, w[cj + i]);
            }
            if (norm == 0) {
                beta[j] = 0; // nothing to reflect: Q keeps e_j in this column
                continue;
            }
            double alpha = w[cj + j] > 0 ? -norm : norm;
            // v = x - alpha e1, beta = 2 / (v^T v)
            int vj = j * m;
            double vv = 0;
            for (int i = j; i < m; i++) {
                double v = w[cj + i] - (i == j ? alpha : 0);
                vs[vj + i] = v;
                vv += v * v;
            }
            beta[j] = vv == 0 ? 0 : 2 / vv;
            for (int c = j; c < n; c++) {
                int cc = c * m;
                double dot = 0;
                for (int i = j; i < m; i++) {
                    dot += vs[vj + i] * w[cc + i];
                }
                double f = beta[j] * dot;
                if (f != 0) {
                    for (int i = j; i < m; i++) {
                        w[cc + i] -= f * vs[vj + i];
                    }
                }
            }
        }
        double[] r = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                r[i * n + j] = w[j * m + i];
            }
        }
        // Q = H_0 H_1 ... H_{n-1} [I_n; 0], applied backwards, column-major in qc
        double[] qc = new double[m * n];
        for (int j = 0; j < n; j++) {
            qc[j * m + j] = 1;
        }
        for (int j = n - 1; j >= 0; j--) {
            if (beta[j] == 0) {
                continue;
            }
            int vj = j * m;
            for (int c = j; c < n; c++) {
                int cc = c * m;
                double dot = 0;
                for (int i = j; i < m; i++) {
                    dot += vs[vj + i] * qc[cc + i];
                }
                double f = beta[j] * dot;
                if (f != 0) {
                    for (int i = j; i < m; i++) {
                        qc[cc + i] -= f * vs[vj + i];
                    }
                }
            }
        }
        double[] q = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                q[i * n + j] = qc[j * m + i];
            }
        }
        return new Qr(q, r);
    }

    /**
     * One-sided Jacobi SVD of a row-major m x n matrix (any shape; a wide one is decomposed through its
     * transpose). Returns all {@code min(m, n)} singular values, descending, with U [m, k] and Vt [k, n].
     */
    public static Svd jacobi(double[] a, int m, int n) {
        if (m < n) {
            Svd t = jacobi(transpose(a, m, n), n, m);
            // A^T = U S V^T  =>  A = V S U^T
            return new Svd(m, n, transpose(t.vt(), t.k(), m), t.s(), transpose(t.u(), n, t.k()));
        }
        // columns of W (column-major, length m) are rotated; V accumulates the rotations
        double[] w = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                w[j * m + i] = a[i * n + j];
            }
        }
        double[] v = new double[n * n]; // column-major
        for (int j = 0; j < n; j++) {
            v[j * n + j] = 1;
        }
        double eps = 1e-15;
        for (int sweep = 0; sweep < 80; sweep++) {
            boolean rotated = false;
            for (int p = 0; p < n - 1; p++) {
                for (int q = p + 1; q < n; q++) {
                    int cp = p * m;
                    int cq = q * m;
                    double alpha = 0;
                    double beta = 0;
                    double gamma = 0;
                    for (int i = 0; i < m; i++) {
                        double x = w[cp + i];
                        double y = w[cq + i];
                        alpha += x * x;
                        beta += y * y;
                        gamma += x * y;
                    }
                    if (gamma == 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) {
                        continue;
                    }
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.signum(zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    if (zeta == 0) {
                        t = 1;
                    }
                    double c = 1 / Math.sqrt(1 + t * t);
                    double s = c * t;
                    for (int i = 0; i < m; i++) {
                        double x = w[cp + i];
                        double y = w[cq + i];
                        w[cp + i] = c * x - s * y;
                        w[cq + i] = s * x + c * y;
                    }
                    int vp = p * n;
                    int vq = q * n;
                    for (int i = 0; i < n; i++) {
                        double x = v[vp + i];
                        double y = v[vq + i];
                        v[vp + i] = c * x - s * y;
                        v[vq + i] = s * x + c * y;
                    }
                }
            }
            if (!rotated) {
                break;
            }
        }
        double[] s = new double[n];
        for (int j = 0; j < n; j++) {
            double nn = 0;
            for (int i = 0; i < m; i++) {
                nn += w[j * m + i] * w[j * m + i];
            }
            s[j] = Math.sqrt(nn);
        }
        Integer[] order = new Integer[n];
        for (int j = 0; j < n; j++) {
            order[j] = j;
        }
        Arrays.sort(order, (x, y) -> Double.compare(s[y], s[x]));
        double[] u = new double[m * n];
        double[] vt = new double[n * n];
        double[] sorted = new double[n];
        double tiny = (s.length == 0 ? 0 : s[order[0]]) * 1e-300;
        for (int k = 0; k < n; k++) {
            int j = order[k];
            sorted[k] = s[j];
            for (int i = 0; i < n; i++) {
                vt[k * n + i] = v[j * n + i];
            }
            if (s[j] > tiny && s[j] > 0) {
                for (int i = 0; i < m; i++) {
                    u[i * n + k] = w[j * m + i] / s[j];
                }
            }
        }
        completeBasis(u, m, n, sorted);
        return new Svd(m, n, u, sorted, vt);
    }

    /** Fills columns of U for zero singular values with orthonormal vectors (so U stays orthonormal). */
    private static void completeBasis(double[] u, int m, int n, double[] s) {
        for (int k = 0; k < n; k++) {
            double nn = 0;
            for (int i = 0; i < m; i++) {
                nn += u[i * n + k] * u[i * n + k];
            }
            if (nn > 0.5) {
                continue;
            }
            for (int e = 0; e < m; e++) { // try unit vectors until one is independent of the others
                double[] x = new double[m];
                x[e] = 1;
                for (int pass = 0; pass < 2; pass++) {
                    for (int c = 0; c < n; c++) {
                        if (c == k) {
                            continue;
                        }
                        double dot = 0;
                        for (int i = 0; i < m; i++) {
                            dot += u[i * n + c] * x[i];
                        }
                        for (int i = 0; i < m; i++) {
                            x[i] -= dot * u[i * n + c];
                        }
                    }
                }
                double xn = 0;
                for (double y : x) {
                    xn += y * y;
                }
                if (xn > 0.25) {
                    xn = Math.sqrt(xn);
                    for (int i = 0; i < m; i++) {
                        u[i * n + k] = x[i] / xn;
                    }
                    break;
                }
            }
        }
    }

    /**
     * The SVD of {@code B A} for B [m, k] and A [k, n] (row-major), never forming the m x n product:
     * {@code B = Qb Rb}, {@code A^T = Qa Ra}, so {@code B A = Qb (Rb Ra^T) Qa^T} and the SVD of the
     * k x k core gives {@code U = Qb Uc}, {@code V = Qa Vc}. Needs {@code k <= m} and {@code k <= n}.
     * Returns all k triplets (zero singular values where the product has lower rank).
     */
    public static Svd ofProduct(double[] b, double[] a, int m, int k, int n) {
        if (k > m || k > n) {
            throw new IllegalArgumentException("ofProduct needs k <= m, n; got m=" + m + " k=" + k + " n=" + n);
        }
        Qr qb = qr(b, m, k);
        Qr qa = qr(transpose(a, k, n), n, k);
        double[] core = new double[k * k]; // Rb Ra^T
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                double acc = 0;
                for (int l = Math.max(i, j); l < k; l++) {
                    acc += qb.r()[i * k + l] * qa.r()[j * k + l];
                }
                core[i * k + j] = acc;
            }
        }
        Svd c = jacobi(core, k, k);
        double[] u = matmul(qb.q(), c.u(), m, k, k);
        // V = Qa Vc  =>  Vt = Vc^T Qa^T = (Qa Vc)^T
        double[] v = matmul(qa.q(), transpose(c.vt(), k, k), n, k, k);
        return new Svd(m, n, u, c.s(), transpose(v, n, k));
    }

    /**
     * The leading singular triplets of a dense m x n matrix (row-major float32): a Gaussian sketch of
     * {@code l} columns (seeded), {@code powerIters} power iterations with re-orthonormalization, then
     * the exact SVD of the l x n matrix {@code Q^T M}. Returns l triplets; {@code l <= min(m, n)}.
     */
    public static Svd randomized(float[] mat, int m, int n, int l, int powerIters, long seed) {
        if (l > Math.min(m, n) || l < 1) {
            throw new IllegalArgumentException("sketch size " + l + " for a " + m + " x " + n + " matrix");
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] omega = new double[n * l];
        for (int i = 0; i < omega.length; i++) {
            omega[i] = gaussian(rnd);
        }
        double[] q = qr(times(mat, m, n, omega, l), m, l).q();
        for (int it = 0; it < powerIters; it++) {
            double[] z = qr(transposeTimes(mat, m, n, q, l), n, l).q(); // M^T Q
            q = qr(times(mat, m, n, z, l), m, l).q(); // M Z
        }
        double[] bt = transposeTimes(mat, m, n, q, l); // (Q^T M)^T, [n, l]
        Svd s = jacobi(bt, n, l); // B^T = Ub S Vb^T  =>  B = Vb S Ub^T
        double[] u = matmul(q, transpose(s.vt(), l, l), m, l, l);
        return new Svd(m, n, u, s.s(), transpose(s.u(), n, l));
    }

    /**
     * Row blocks of the dense products: a fixed count, so the sums (and the output bytes) do not
     * depend on the number of cores; the blocks run on the common fork-join pool.
     */
    static final int BLOCKS = 8;

    /** M [m, n] (float) times X [n, l]: [m, l]; rows in parallel blocks. */
    static double[] times(float[] mat, int m, int n, double[] x, int l) {
        double[] y = new double[m * l];
        IntStream.range(0, BLOCKS).parallel().forEach(blk -> {
            int lo = (int) ((long) m * blk / BLOCKS);
            int hi = (int) ((long) m * (blk + 1) / BLOCKS);
            for (int i = lo; i < hi; i++) {
                int row = i * n;
                int yo = i * l;
                for (int k = 0; k < n; k++) {
                    double d = mat[row + k];
                    if (d == 0) {
                        continue;
                    }
                    int xo = k * l;
                    for (int j = 0; j < l; j++) {
                        y[yo + j] += d * x[xo + j];
                    }
                }
            }
        });
        return y;
    }

    /** M^T X for M [m, n] (float), X [m, l]: [n, l]; each row block sums into its own array, added in block order. */
    static double[] transposeTimes(float[] mat, int m, int n, double[] x, int l) {
        double[][] parts = new double[BLOCKS][];
        IntStream.range(0, BLOCKS).parallel().forEach(blk -> {
            int lo = (int) ((long) m * blk / BLOCKS);
            int hi = (int) ((long) m * (blk + 1) / BLOCKS);
            double[] z = new double[n * l];
            for (int i = lo; i < hi; i++) {
                int row = i * n;
                int xo = i * l;
                for (int k = 0; k < n; k++) {
                    double d = mat[row + k];
                    if (d == 0) {
                        continue;
                    }
                    int zo = k * l;
                    for (int j = 0; j < l; j++) {
                        z[zo + j] += d * x[xo + j];
                    }
                }
            }
            parts[blk] = z;
        });
        double[] z = parts[0];
        for (int b = 1; b < BLOCKS; b++) {
            double[] p = parts[b];
            for (int i = 0; i < z.length; i++) {
                z[i] += p[i];
            }
        }
        return z;
    }

    /** Row-major [m, k] times [k, n]. */
    public static double[] matmul(double[] a, double[] b, int m, int k, int n) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int l = 0; l < k; l++) {
                double x = a[i * k + l];
                if (x == 0) {
                    continue;
                }
                int bo = l * n;
                int co = i * n;
                for (int j = 0; j < n; j++) {
                    c[co + j] += x * b[bo + j];
                }
            }
        }
        return c;
    }

    static double[] transpose(double[] a, int m, int n) {
        double[] t = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                t[j * m + i] = a[i * n + j];
            }
        }
        return t;
    }

    private static double gaussian(SplittableRandom r) {
        // Box-Muller (SplittableRandom has no nextGaussian in JDK 17)
        double u1 = 1 - r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
