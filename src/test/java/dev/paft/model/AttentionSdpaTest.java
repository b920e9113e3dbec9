package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.engine.GradMode;
import dev.paft.engine.Scalars;
import dev.paft.engine.Torch;
import dev.paft.testutil.Fixtures;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fused attention the model runs ({@link Torch#sdpa}) against the explicit computation it replaced
 * ({@link Attention#attend}: scores, additive mask, softmax, weighted sum, op by op) in float32: outputs and the
 * gradients of q, k and v agree to 1e-5, with grouped-query heads, the causal mask, right padding, a row whose
 * keys are all padding (the additive mask's finite NEG gives a uniform row, not NaN), and a KV-cache step
 * (T queries after S - T cached keys).
 */
class AttentionSdpaTest {
    private static final double TOL = 1e-5;

    @ParameterizedTest(name = "B={0} H={1} KV={2} T={3} S={4} D={5} padding={6}")
    @CsvSource({"2,4,2,7,7,8,true", "1,4,4,5,5,16,false", "3,6,2,9,9,8,true", "2,4,1,3,8,8,true"})
    void fusedEqualsExplicit(int b, int h, int kv, int t, int s, int d, boolean padding) {
        Fixtures.cpu();
        try (NDManager m = NDManager.newBaseManager();
                GradMode g = GradMode.on()) {
            m.getEngine().setRandomSeed(42);
            NDArray q = m.randomNormal(new Shape(b, h, t, d));
            NDArray k = m.randomNormal(new Shape(b, kv, s, d));
            NDArray v = m.randomNormal(new Shape(b, kv, s, d));
            NDArray r = m.randomNormal(new Shape(b, h, t, d)); // output weights of the test loss sum(o * r)
            NDArray mask = mask(m, b, t, s, padding);
            double scale = 1.0 / Math.sqrt(d);

            float[][] ref =
                    run(q, k, v, r, x -> Attention.attend(x[0], x[1], x[2], mask, Scalars.of(scale, m.getDevice())));
            float[][] fused = run(q, k, v, r, x -> Torch.sdpa(x[0], x[1], x[2], mask, false, scale));
            String[] what = {"output", "dq", "dk", "dv"};
            for (int i = 0; i < ref.length; i++) {
                double err = maxAbsDiff(ref[i], fused[i]);
                System.out.printf(
                        "sdpa vs explicit B=%d H=%d KV=%d T=%d S=%d: %s max |diff| %.2e%n",
                        b, h, kv, t, s, what[i], err);
                assertTrue(err < TOL, what[i] + " differs by " + err);
            }
        }
    }

    /** Output and gradients of q, k, v for loss sum(attention(q, k, v) * r). */
    private static float[][] run(NDArray q0, NDArray k0, NDArray v0, NDArray r, Function<NDArray[], NDArray> f) {
        NDManager m = q0.getManager();
        try (NDManager step = m.newSubManager()) {
            NDArray q = q0.duplicate();
            NDArray k = k0.duplicate();
            NDArray v = v0.duplicate();
            for (NDArray x : new NDArray[] {q, k, v}) {
                x.attach(step);
                x.setRequiresGradient(true);
            }
            NDArray o = f.apply(new NDArray[] {q, k, v});
            NDArray loss = o.mul(r).sum();
            Torch.backward(loss, step.ones(new Shape()));
            return new float[][] {
                o.toFloatArray(),
                q.getGradient().toFloatArray(),
                k.getGradient().toFloatArray(),
                v.getGradient().toFloatArray()
            };
        }
    }

    /**
     * Additive [B, 1, T, S] mask as the model builds it: causal for queries at S-T .. S-1, plus padding of the last
     * keys in row 0 and, in the last row, of every key (all-padding queries).
     */
    private static NDArray mask(NDManager m, int b, int t, int s, boolean padding) {
        float neg = LlamaModel.MASK_NEG;
        float[] v = new float[b * t * s];
        for (int r = 0; r < b; r++) {
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < s; j++) {
                    boolean future = j > s - t + i;
                    boolean pad = padding && (r == 0 && j >= s - 2 || r == b - 1 && b > 1);
                    v[(r * t + i) * s + j] = (future ? neg : 0) + (pad ? neg : 0);
                }
            }
        }
        return m.create(v, new Shape(b, 1, t, s));
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double e = 0;
        for (int i = 0; i < a.length; i++) {
            e = Math.max(e, Math.abs(a[i] - b[i]));
        }
        return e;
    }
}
