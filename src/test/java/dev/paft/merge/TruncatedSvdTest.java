package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.io.Json;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * paft's SVDs against torch.linalg.svd (LAPACK gesdd, float64), computed independently by
 * scripts/golden/make_lora_svd_golden.py on matrices defined by closed formulas evaluated here the
 * same way.
 */
class TruncatedSvdTest {
    static final JsonNode GOLDEN = Json.readObject(Path.of("src/test/resources/merge/lora_svd_golden.json"));

    static double[] dense(int m, int n, double decay) {
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double v = 0;
                for (int k = 0; k < 6; k++) {
                    v += Math.pow(decay, k)
                            * Math.sin(0.37 * (i + 1) * (k + 1) + 0.11 * j * (k + 2))
                            * Math.cos(0.23 * (j + 1) * (k + 1) - 0.07 * i);
                }
                v += 1e-3 * Math.sin(1.7 * i + 2.9 * j + 0.5 * i * j);
                out[i * n + j] = v;
            }
        }
        return out;
    }

    /** {B [m, k], A [k, n]} as the script defines them. */
    static double[][] factors(int m, int k, int n, boolean deficient) {
        double[] b = new double[m * k];
        double[] a = new double[k * n];
        for (int i = 0; i < m; i++) {
            for (int c = 0; c < k; c++) {
                b[i * k + c] = Math.cos(0.31 * (i + 1) * (c + 1)) + 0.05 * c;
            }
        }
        for (int c = 0; c < k; c++) {
            for (int j = 0; j < n; j++) {
                a[c * n + j] = Math.sin(0.19 * (c + 1) * (j + 2)) - 0.03 * j * c / n;
            }
        }
        if (deficient) {
            for (int i = 0; i < m; i++) {
                b[i * k + k - 1] = b[i * k];
            }
        }
        return new double[][] {b, a};
    }

    @Test
    void jacobiAndProductSvdMatchTorch() {
        for (JsonNode c : GOLDEN.get("cases")) {
            String kind = c.get("kind").asText();
            int m = c.get("m").asInt();
            int n = c.get("n").asInt();
            double[] mat;
            TruncatedSvd.Svd svd;
            if (kind.equals("dense")) {
                mat = dense(m, n, c.get("decay").asDouble());
                svd = TruncatedSvd.jacobi(mat, m, n);
            } else {
                int k = c.get("k").asInt();
                double[][] f = factors(m, k, n, kind.equals("deficient"));
                mat = TruncatedSvd.matmul(f[0], f[1], m, k, n);
                svd = TruncatedSvd.ofProduct(f[0], f[1], m, k, n);
            }
            JsonNode ref = c.get("singular_values");
            double s0 = ref.get(0).asDouble();
            for (int j = 0; j < svd.k(); j++) {
                assertEquals(
                        ref.get(j).asDouble(),
                        svd.s()[j],
                        1e-12 * s0,
                        c.get("name").asText() + " sigma " + j);
            }
            assertReconstructs(mat, svd, 1e-12, c.get("name").asText());
            assertOrthonormalColumns(svd.u(), m, svd.k(), 1e-12);
            // the rank-r truncation error paft reports equals the optimal (Eckart-Young) one
            for (int r = 1; r <= Math.min(8, svd.k()); r++) {
                double tail = 0;
                double all = 0;
                for (int j = 0; j < svd.k(); j++) {
                    all += svd.s()[j] * svd.s()[j];
                    tail += j >= r ? svd.s()[j] * svd.s()[j] : 0;
                }
                double expect = c.get("optimal_error_at_rank").get(r - 1).asDouble();
                assertEquals(expect, Math.sqrt(tail / all), 1e-9, c.get("name").asText() + " error at rank " + r);
            }
        }
    }

    @Test
    void randomizedIsNearOptimalAndItsErrorIsExact() {
        for (JsonNode c : GOLDEN.get("cases")) {
            if (!c.get("kind").asText().equals("dense")) {
                continue;
            }
            int m = c.get("m").asInt();
            int n = c.get("n").asInt();
            double[] mat = dense(m, n, c.get("decay").asDouble());
            float[] f = new float[mat.length];
            double norm2 = 0;
            for (int i = 0; i < mat.length; i++) {
                f[i] = (float) mat[i];
                norm2 += (double) f[i] * f[i];
            }
            for (int r : new int[] {2, 5, 8}) {
                TruncatedSvd.Svd svd = TruncatedSvd.randomized(f, m, n, Math.min(Math.min(m, n), r + 10), 3, 7);
                double kept = 0;
                for (int j = 0; j < r; j++) {
                    kept += svd.s()[j] * svd.s()[j];
                }
                double reported = Math.sqrt((norm2 - kept) / norm2);
                // the error of B = U_r S_r Vt_r measured directly equals the reported one
                double direct2 = 0;
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double x = 0;
                        for (int l = 0; l < r; l++) {
                            x += svd.u()[i * svd.k() + l] * svd.s()[l] * svd.vt()[l * n + j];
                        }
                        direct2 += (f[i * n + j] - x) * (f[i * n + j] - x);
                    }
                }
                assertEquals(
                        Math.sqrt(direct2 / norm2),
                        reported,
                        1e-9,
                        c.get("name").asText() + " rank " + r);
                double optimal = c.get("optimal_error_at_rank").get(r - 1).asDouble();
                assertTrue(reported >= optimal - 1e-7, "cannot beat Eckart-Young: " + reported + " < " + optimal);
                assertTrue(
                        reported <= optimal * 1.01 + 1e-6,
                        c.get("name").asText() + " rank " + r + ": randomized " + reported + " vs optimal " + optimal);
            }
        }
    }

    @Test
    void qrIsOrthonormalAndExactAlsoWhenRankDeficient() {
        Random rnd = new Random(3);
        int m = 30;
        int n = 7;
        double[] a = new double[m * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextGaussian();
        }
        for (int i = 0; i < m; i++) {
            a[i * n + 4] = 2 * a[i * n + 1]; // dependent column
            a[i * n + 6] = 0; // zero column
        }
        TruncatedSvd.Qr qr = TruncatedSvd.qr(a, m, n);
        assertOrthonormalColumns(qr.q(), m, n, 1e-13);
        double[] back = TruncatedSvd.matmul(qr.q(), qr.r(), m, n, n);
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], back[i], 1e-13);
        }
        for (int i = 1; i < n; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(0.0, qr.r()[i * n + j], "R is upper triangular");
            }
        }
        // zero singular values still get orthonormal U columns
        TruncatedSvd.Svd svd = TruncatedSvd.jacobi(a, m, n);
        assertEquals(0.0, svd.s()[n - 1], 1e-12);
        assertEquals(0.0, svd.s()[n - 2], 1e-12);
        assertOrthonormalColumns(svd.u(), m, n, 1e-12);
        assertReconstructs(a, svd, 1e-12, "deficient");
    }

    static void assertReconstructs(double[] mat, TruncatedSvd.Svd svd, double tol, String what) {
        int m = svd.m();
        int n = svd.n();
        int k = svd.k();
        double scale = svd.s()[0];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double x = 0;
                for (int l = 0; l < k; l++) {
                    x += svd.u()[i * k + l] * svd.s()[l] * svd.vt()[l * n + j];
                }
                assertEquals(mat[i * n + j], x, tol * scale, what + " [" + i + "," + j + "]");
            }
        }
    }

    static void assertOrthonormalColumns(double[] q, int m, int k, double tol) {
        for (int a = 0; a < k; a++) {
            for (int b = 0; b < k; b++) {
                double d = 0;
                for (int i = 0; i < m; i++) {
                    d += q[i * k + a] * q[i * k + b];
                }
                assertEquals(a == b ? 1.0 : 0.0, d, tol, "Q^T Q [" + a + "," + b + "]");
            }
        }
    }
}
