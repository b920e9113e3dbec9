package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Karcher mean (mergekit/merge_methods/karcher.py): the Riemannian barycenter of the inputs'
 * directions on the unit sphere, scaled by their mean norm. Equal weights {@code a_i = 1/N} over
 * all inputs (a {@code base_model} is one of them, as mergekit's planner adds it); norms
 * {@code n_i = |x_i|} and units {@code u_i = x_i / n_i}; inputs with {@code n_i <= tol} are left out of
 * the mean (weights renormalized over the rest; none left: zeros). Start from the normalized
 * weighted mean of the units (the first unit if its norm is below tol); then up to {@code max_iter}
 * times: {@code theta_i = acos(clamp(<u, u_i>, -1, 1))},
 * {@code T = sum_{theta_i >= tol} a_i theta_i / sin(theta_i) (u_i - <u, u_i> u)}; stop when
 * {@code |T| < tol}; else {@code u = cos|T| u + sin|T| T/|T|}, renormalized. Result
 * {@code (sum_i a_i n_i) u}. Parameters (global): max_iter (10), tol (1e-5).
 */
public final class KarcherMerge implements MergeMethod {
    @Override
    public String name() {
        return "karcher";
    }

    @Override
    public Map<String, Object> parameters() {
        return ParamDecl.of("max_iter", 10.0, "tol", 1e-5);
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        MethodMath.integer(global, "max_iter", 0, 100_000);
        MethodMath.nonNegative(global, "tol");
    }

    @Override
    public boolean baseIsAnInput() {
        return true;
    }

    @Override
    public void validateInputs(int inputs) {
        if (inputs < 1) {
            throw PaftException.usage("karcher needs at least one model");
        }
    }

    @Override
    public boolean usesDeltas() {
        return false;
    }

    @Override
    public boolean needsBase() {
        return false;
    }

    @Override
    public int scratchArrays() {
        return 1;
    }

    @Override
    public float[] merge(MergeTensor t) {
        float[][] x = t.inputs();
        int n = x.length;
        if (n == 1) {
            return x[0];
        }
        int len = x[0].length;
        int maxIter = (int) t.global().number("max_iter");
        double tol = t.global().number("tol");
        // 1. norms; units in place (x_i / n_i, float32 quotients; a zero tensor stays zero)
        double[] norms = new double[n];
        for (int i = 0; i < n; i++) {
            norms[i] = Math.sqrt(MethodMath.sumSquares(x[i], i));
            float fn = (float) norms[i];
            if (norms[i] != 0) {
                for (int j = 0; j < len; j++) {
                    x[i][j] /= fn;
                }
            }
        }
        double alpha = 1.0 / n;
        List<Integer> valid = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (norms[i] > tol) {
                valid.add(i);
            }
        }
        float[] u = t.scratch().apply(len);
        if (valid.isEmpty()) {
            Arrays.fill(u, 0f);
            return u;
        }
        float[] a = new float[valid.size()];
        for (int k = 0; k < a.length; k++) {
            a[k] = (float) (alpha / (alpha * valid.size()));
        }
        // 2. start: the normalized weighted mean of the units
        Arrays.fill(u, 0f);
        for (int k = 0; k < a.length; k++) {
            float[] ui = x[valid.get(k)];
            for (int j = 0; j < len; j++) {
                u[j] += a[k] * ui[j];
            }
        }
        double nu = Math.sqrt(sumSquares(u));
        if (nu < tol) {
            System.arraycopy(x[valid.get(0)], 0, u, 0, len);
        } else {
            divide(u, nu);
        }
        // 3. iterate: the mean of the log maps T, then the exponential map. T is not stored: its element
        // j, sum_i c_i (u_i[j] - dot_i u[j]) in input order (mergekit's T += ...), is computed where used
        int m = a.length;
        float[][] us = new float[m][];
        for (int k = 0; k < m; k++) {
            us[k] = x[valid.get(k)];
        }
        float[] c = new float[m];
        float[] fdot = new float[m];
        for (int it = 0; it < maxIter; it++) {
            for (int k = 0; k < m; k++) {
                double dot = 0;
                for (int j = 0; j < len; j++) {
                    dot += (double) u[j] * us[k][j];
                }
                dot = Math.max(-1, Math.min(1, dot));
                double theta = Math.acos(dot);
                // theta < tol: left out (c = 0 adds +-0 to T, which changes no float sum but -0's sign)
                c[k] = theta < tol ? 0f : (float) (a[k] * (theta / Math.sin(theta)));
                fdot[k] = (float) dot;
            }
            double nt = 0;
            for (int j = 0; j < len; j++) {
                float tj = logMap(us, c, fdot, u, j);
                nt += (double) tj * tj;
            }
            nt = Math.sqrt(nt);
            if (nt < tol) {
                break;
            }
            float cs = (float) Math.cos(nt);
            float sn = (float) Math.sin(nt);
            float fnt = (float) nt;
            for (int j = 0; j < len; j++) {
                float tj = logMap(us, c, fdot, u, j);
                u[j] = cs * u[j] + sn * (tj / fnt);
            }
            double nu2 = Math.sqrt(sumSquares(u));
            if (nu2 > tol) {
                divide(u, nu2);
            }
        }
        // 4. scale: the weighted sum of all norms (zero tensors included)
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += alpha * norms[i];
        }
        float fs = (float) s;
        for (int j = 0; j < len; j++) {
            u[j] = fs * u[j];
        }
        return u;
    }

    /** {@code T[j] = sum_k c_k (u_k[j] - dot_k u[j])}, summed from 0 in input order. */
    private static float logMap(float[][] us, float[] c, float[] dot, float[] u, int j) {
        float tj = 0f;
        for (int k = 0; k < us.length; k++) {
            if (c[k] != 0f) {
                tj += c[k] * (us[k][j] - dot[k] * u[j]);
            }
        }
        return tj;
    }

    private static double sumSquares(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return s;
    }

    private static void divide(float[] v, double by) {
        float f = (float) by;
        for (int j = 0; j < v.length; j++) {
            v[j] /= f;
        }
    }
}
