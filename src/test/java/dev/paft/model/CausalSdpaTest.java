package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.engine.GradMode;
import dev.paft.engine.Scalars;
import dev.paft.engine.Torch;
import dev.paft.io.FloatTensor;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraModule;
import dev.paft.testutil.Fixtures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.bytedeco.pytorch.Node;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The kernel-friendly attention call ({@link Attention#fused}) against the explicit masked computation ({@link
 * Attention#attend}) on right-padded batches, float32: is_causal with no mask is exact at every real query, and so
 * are the q, k, v gradients of a loss that reads only real queries (as every paft loss does: pads carry label
 * -100); with grouped-query heads on and off, and a row of one real token. The CPU must run libtorch's fused flash
 * kernel for these calls, not the math fallback that keeps the scores (the rule {@link AttentionKernel} encodes: the
 * CPU flash kernel takes no grouped-query heads, so k and v are repeated first). At the model level, a tiny model's
 * training step on a padded batch gives the same loss and LoRA gradients through the is_causal path as through the
 * masked one.
 */
class CausalSdpaTest {
    private static final double TOL = 1e-5;

    @ParameterizedTest(name = "B={0} H={1} KV={2} T={3} D={4} lengths={5}")
    @CsvSource({"3,4,2,9,8,'9 1 6'", "3,4,4,9,8,'9 1 6'", "2,8,2,40,16,'40 23'", "2,6,1,17,8,'1 17'", "1,4,2,5,8,'5'"})
    void causalEqualsMaskedAtRealQueries(int b, int h, int kv, int t, int d, String lengths) {
        Fixtures.cpu();
        int[] len =
                Arrays.stream(lengths.split(" ")).mapToInt(Integer::parseInt).toArray();
        try (NDManager m = NDManager.newBaseManager();
                GradMode g = GradMode.on()) {
            m.getEngine().setRandomSeed(7);
            NDArray q = m.randomNormal(new Shape(b, h, t, d));
            NDArray k = m.randomNormal(new Shape(b, kv, t, d));
            NDArray v = m.randomNormal(new Shape(b, kv, t, d));
            // loss weights: random at real queries, 0 at pad queries (what a loss with ignored pad labels sees)
            float[] rv = m.randomNormal(new Shape(b, h, t, d)).toFloatArray();
            for (int r = 0; r < b; r++) {
                for (int i = 0; i < h * t * d; i++) {
                    if ((i / d) % t >= len[r]) {
                        rv[r * h * t * d + i] = 0;
                    }
                }
            }
            NDArray w = m.create(rv, new Shape(b, h, t, d));
            NDArray mask = mask(m, len, t);
            double scale = 1.0 / Math.sqrt(d);

            float[][] ref =
                    run(q, k, v, w, x -> Attention.attend(x[0], x[1], x[2], mask, Scalars.of(scale, m.getDevice())));
            String[] kernel = new String[1];
            float[][] causal = run(q, k, v, w, x -> {
                NDArray o = Attention.fused(x[0], x[1], x[2], null, false, scale);
                kernel[0] = gradFn(o);
                return o;
            });
            assertTrue(kernel[0].contains("Flash"), "is_causal call ran " + kernel[0] + ", not the flash kernel");
            float[][] masked = run(q, k, v, w, x -> {
                NDArray o = Attention.fused(x[0], x[1], x[2], mask, false, scale);
                kernel[0] = gradFn(o);
                return o;
            });
            assertTrue(kernel[0].contains("Flash"), "masked call ran " + kernel[0] + ", not the flash kernel");

            String[] what = {"output at real queries", "dq", "dk", "dv"};
            for (int i = 0; i < ref.length; i++) {
                float[] a = i == 0 ? realQueries(ref[0], len, h, t, d) : ref[i];
                float[] c = i == 0 ? realQueries(causal[0], len, h, t, d) : causal[i];
                float[] mk = i == 0 ? realQueries(masked[0], len, h, t, d) : masked[i];
                double ec = maxAbsDiff(a, c);
                double em = maxAbsDiff(a, mk);
                System.out.printf(
                        "fused vs explicit B=%d H=%d KV=%d T=%d lengths=%s: %s is_causal %.2e, masked %.2e%n",
                        b, h, kv, t, lengths, what[i], ec, em);
                assertTrue(ec < TOL, "is_causal: " + what[i] + " differs by " + ec);
                assertTrue(em < TOL, "masked: " + what[i] + " differs by " + em);
            }
        }
    }

    /** The rule the expansion exists for: libtorch 2.7.1's CPU flash kernel refuses grouped-query heads. */
    @Test
    void groupedHeadsWithoutExpansionFallBackToMathOnCpu() {
        Fixtures.cpu();
        try (NDManager m = NDManager.newBaseManager();
                GradMode g = GradMode.on()) {
            NDArray q = m.randomNormal(new Shape(1, 4, 6, 8));
            NDArray k = m.randomNormal(new Shape(1, 2, 6, 8));
            NDArray v = m.randomNormal(new Shape(1, 2, 6, 8));
            q.setRequiresGradient(true);
            String gqa = gradFn(Torch.sdpa(q, k, v, null, true, 0.35));
            assertFalse(gqa.contains("Flash"), "enable_gqa on the CPU ran " + gqa);
            assertTrue(AttentionKernel.expandKv(false, false, false, true));
            String expanded = gradFn(Torch.sdpa(q, Torch.repeatHeads(k, 2), Torch.repeatHeads(v, 2), null, true, 0.35));
            assertTrue(expanded.contains("Flash"), "expanded k/v on the CPU ran " + expanded);
        }
    }

    @Test
    void rightPaddedReadsTheMask() {
        Fixtures.cpu();
        try (NDManager m = NDManager.newBaseManager()) {
            assertTrue(Pass.rightPadded(null));
            assertTrue(Pass.rightPadded(m.create(new int[] {1, 1, 0, 1, 0, 0, 0, 0, 0}, new Shape(3, 3))));
            assertTrue(Pass.rightPadded(m.create(new long[] {1, 1, 1}, new Shape(1, 3))));
            assertFalse(Pass.rightPadded(m.create(new int[] {1, 1, 1, 0, 1, 1}, new Shape(2, 3)))); // left padding
            assertFalse(Pass.rightPadded(m.create(new int[] {1, 0, 1}, new Shape(1, 3)))); // a hole
        }
    }

    /** One SFT-style training step (loss = mean -log p over labelled tokens) on the golden padded batch. */
    @ParameterizedTest(name = "{0} checkpoint={1}")
    @CsvSource({"llama,true", "mistral,false", "qwen2-f16,true"})
    void trainingStepOnPaddedBatchEqualsMaskedPath(String name, boolean checkpoint) {
        Device cpu = Fixtures.cpu();
        Map<String, FloatTensor> g = Fixtures.golden(name);
        try (LlamaModel model = LlamaModel.load(Fixtures.dir(name), cpu, false);
                LoraAdapter adapter = model.loadAdapter(Fixtures.dir(name + "-adapter"))) {
            float[] mask = g.get("attention_mask").data();
            assertTrue(mask[mask.length - 1] == 0, "the golden batch has right padding");
            Bf16PrecisionTest.Step causal = step(model, adapter, g, checkpoint);
            Bf16PrecisionTest.Step masked;
            Pass.causalShortcut = false;
            try {
                masked = step(model, adapter, g, checkpoint);
            } finally {
                Pass.causalShortcut = true;
            }
            double gradErr = Fixtures.relErr(causal.grads(), masked.grads());
            System.out.printf(
                    "%s: loss is_causal %.8f masked %.8f, LoRA grad rel err %.2e%n",
                    name, causal.loss(), masked.loss(), gradErr);
            assertEquals(masked.loss(), causal.loss(), TOL * Math.abs(masked.loss()));
            assertTrue(gradErr < TOL, "LoRA gradients rel err " + gradErr);
            assertEquals(g.get("lora_loss").data()[0], causal.loss(), 1e-4);
        }
    }

    private static Bf16PrecisionTest.Step step(
            LlamaModel model, LoraAdapter adapter, Map<String, FloatTensor> g, boolean checkpoint) {
        adapter.zeroGradients();
        try (NDManager scope = model.manager().newSubManager();
                GradMode on = GradMode.on()) {
            NDArray ids = Fixtures.longs(scope, g.get("input_ids"));
            NDArray mask = Fixtures.longs(scope, g.get("attention_mask"));
            long[] labels = Fixtures.longs(scope, g.get("labels")).toLongArray();
            int rows = Math.toIntExact(ids.getShape().get(0));
            int cols = Math.toIntExact(ids.getShape().get(1));
            TrainingForward fwd = model.trainingForward(scope, ids, mask, adapter, true, 0, checkpoint, Precision.FP32);
            LabelScorer.Scored s = model.scorer(1024).score(scope, fwd.hidden(), LabelScorer.align(labels, rows, cols));
            long n = 0;
            double sum = 0;
            for (int r = 0; r < rows; r++) {
                n += s.counts(0)[r];
                sum += s.sums(0)[r];
            }
            float[] w = new float[rows];
            Arrays.fill(w, (float) (-1.0 / n));
            fwd.backward(s.gradient(new float[][] {w}));
            List<Float> all = new ArrayList<>();
            for (LoraModule mod : adapter.modules().values()) {
                for (NDArray p : new NDArray[] {mod.a(), mod.b()}) {
                    NDArray grad = p.getGradient();
                    grad.attach(scope);
                    for (float f : grad.toFloatArray()) {
                        all.add(f);
                    }
                }
            }
            float[] grads = new float[all.size()];
            for (int i = 0; i < grads.length; i++) {
                grads[i] = all.get(i);
            }
            return new Bf16PrecisionTest.Step(-sum / n, grads);
        } finally {
            adapter.zeroGradients();
        }
    }

    /** The autograd node that made {@code o}, e.g. ScaledDotProductFlashAttentionForCpuBackward0. */
    static String gradFn(NDArray o) {
        try (Tensor t = Torch.view(o)) {
            Node n = t.grad_fn();
            return n == null || n.isNull() ? "none" : n.name().getString();
        }
    }

    /** Output and gradients of q, k, v for loss sum(attention(q, k, v) * w). */
    private static float[][] run(NDArray q0, NDArray k0, NDArray v0, NDArray w, Function<NDArray[], NDArray> f) {
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
            NDArray loss = o.mul(w).sum();
            Torch.backward(loss, step.ones(new Shape()));
            return new float[][] {
                o.toFloatArray(),
                q.getGradient().toFloatArray(),
                k.getGradient().toFloatArray(),
                v.getGradient().toFloatArray()
            };
        }
    }

    /** The model's additive [B, 1, T, T] mask: causal plus padding after each row's length. */
    private static NDArray mask(NDManager m, int[] len, int t) {
        float neg = LlamaModel.MASK_NEG;
        float[] v = new float[len.length * t * t];
        for (int r = 0; r < len.length; r++) {
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < t; j++) {
                    v[(r * t + i) * t + j] = (j > i ? neg : 0) + (j >= len[r] ? neg : 0);
                }
            }
        }
        return m.create(v, new Shape(len.length, 1, t, t));
    }

    /** The [B, H, T, D] entries of real queries (position < the row's length). */
    private static float[] realQueries(float[] x, int[] len, int h, int t, int d) {
        List<Float> out = new ArrayList<>();
        for (int r = 0; r < len.length; r++) {
            for (int i = 0; i < h * t * d; i++) {
                if ((i / d) % t < len[r]) {
                    out.add(x[r * h * t * d + i]);
                }
            }
        }
        float[] a = new float[out.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = out.get(i);
        }
        return a;
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double e = 0;
        for (int i = 0; i < a.length; i++) {
            e = Math.max(e, Math.abs(a[i] - b[i]));
        }
        return e;
    }
}
