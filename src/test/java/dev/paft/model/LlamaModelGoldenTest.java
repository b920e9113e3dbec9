package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.paft.io.FloatTensor;
import dev.paft.io.PeftAdapter;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraModule;
import dev.paft.testutil.Fixtures;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Logits, label log-probs and LoRA gradients against the plain-PyTorch reference (golden files). */
class LlamaModelGoldenTest {
    static final double TOL = 1e-4;

    @ParameterizedTest(name = "{0} f16Storage={1}")
    @CsvSource({
        "llama,false",
        "llama-tied-bf16,false",
        "qwen2-f16,false",
        "qwen2-f16,true",
        "llama3-scaled,false",
        "mistral,false",
        "llama-tied-bf16,true"
    })
    void baseMatchesReference(String name, boolean f16) {
        Device cpu = Fixtures.cpu();
        Map<String, FloatTensor> g = Fixtures.golden(name);
        try (LlamaModel model = LlamaModel.load(Fixtures.dir(name), cpu, f16);
                NDManager scope = model.manager().newSubManager()) {
            NDArray ids = Fixtures.longs(scope, g.get("input_ids"));
            NDArray mask = Fixtures.longs(scope, g.get("attention_mask"));
            NDArray labels = Fixtures.longs(scope, g.get("labels"));
            NDArray logits = model.forward(scope, ids, mask, null, false);
            int v = model.config().vocabSize();
            float[] m = g.get("attention_mask").data();
            double logitErr = Fixtures.relErr(
                    Fixtures.realPositions(logits.toFloatArray(), m, v),
                    Fixtures.realPositions(g.get("logits").data(), m, v));
            for (int chunk : new int[] {1, 5, 1024}) { // many chunks, a few, one
                Fixtures.Ce lp =
                        Fixtures.ce(model, scope, ids, mask, labels.toLongArray(), null, false, true, chunk, 0);
                double tokErr = Fixtures.elementRelErr(
                        unaligned(lp.tokens(), ids), g.get("token_logprobs").data());
                float[] sums = new float[lp.rowSums().length];
                float[] counts = new float[sums.length];
                for (int i = 0; i < sums.length; i++) {
                    sums[i] = (float) lp.rowSums()[i];
                    counts[i] = lp.rowCounts()[i];
                }
                double sumErr =
                        Fixtures.elementRelErr(sums, g.get("sum_logprobs").data());
                System.out.printf(
                        "golden %s f16=%s chunk=%d: logits rel %.2e, token logprob rel %.2e, sum rel %.2e%n",
                        name, f16, chunk, logitErr, tokErr, sumErr);
                assertTrue(logitErr < TOL, "logits rel err " + logitErr);
                assertTrue(tokErr < TOL, "token log-prob rel err " + tokErr);
                assertTrue(sumErr < TOL, "sum log-prob rel err " + sumErr);
                assertEquals(0, Fixtures.relErr(counts, g.get("count").data()), 0);
            }

            Scoring.Scores s = Scoring.score(model, model.manager(), ids, mask, labels, null);
            for (int i = 0; i < s.sum().length; i++) {
                assertEquals(g.get("sum_logprobs").data()[i], s.sum()[i], TOL * Math.max(1, Math.abs(s.sum()[i])));
            }
        }
    }

    /** Per-position log-probs [B * T] aligned (t scores token t+1) as the reference's [B, T-1]. */
    static float[] unaligned(float[] tokens, NDArray ids) {
        int b = Math.toIntExact(ids.getShape().get(0));
        int t = Math.toIntExact(ids.getShape().get(1));
        float[] out = new float[b * (t - 1)];
        for (int r = 0; r < b; r++) {
            System.arraycopy(tokens, r * t, out, r * (t - 1), t - 1);
        }
        return out;
    }

    @ParameterizedTest(name = "{0} f16Storage={1} checkpoint={2} chunk={3}")
    @CsvSource({
        "llama,false,true,1024",
        "llama,false,false,3",
        "qwen2-f16,false,true,2",
        "qwen2-f16,true,true,1024",
        "mistral,false,false,1024",
        "mistral,false,true,4"
    })
    void adapterAndGradientsMatchReference(String name, boolean f16, boolean checkpoint, int chunk) {
        Device cpu = Fixtures.cpu();
        Map<String, FloatTensor> g = Fixtures.golden(name);
        try (LlamaModel model = LlamaModel.load(Fixtures.dir(name), cpu, f16);
                LoraAdapter adapter = model.loadAdapter(Fixtures.dir(name + "-adapter"));
                NDManager scope = model.manager().newSubManager()) {
            boolean was = Autograd.setGradMode(true);
            NDArray ids = Fixtures.longs(scope, g.get("input_ids"));
            NDArray mask = Fixtures.longs(scope, g.get("attention_mask"));
            NDArray labels = Fixtures.longs(scope, g.get("labels"));
            NDArray logits = model.forward(scope, ids, mask, adapter, true);
            int v = model.config().vocabSize();
            float[] m = g.get("attention_mask").data();
            double logitErr = Fixtures.relErr(
                    Fixtures.realPositions(logits.toFloatArray(), m, v),
                    Fixtures.realPositions(g.get("lora_logits").data(), m, v));
            adapter.zeroGradients();
            Fixtures.Ce lp =
                    Fixtures.ce(model, scope, ids, mask, labels.toLongArray(), adapter, true, checkpoint, chunk, 0);
            Autograd.setGradMode(was);
            double tokErr = Fixtures.elementRelErr(
                    unaligned(lp.tokens(), ids), g.get("lora_token_logprobs").data());
            assertEquals(g.get("lora_loss").data()[0], lp.loss(), TOL);
            double gradErr = 0;
            for (LoraModule mod : adapter.modules().values()) {
                for (String f : new String[] {"A", "B"}) {
                    NDArray p = f.equals("A") ? mod.a() : mod.b();
                    NDArray grad = p.getGradient();
                    grad.attach(scope);
                    float[] ref = g.get("grad." + mod.key() + ".lora_" + f).data();
                    double e = Fixtures.relErr(grad.toFloatArray(), ref);
                    gradErr = Math.max(gradErr, e);
                    assertTrue(e < TOL, "gradient of " + PeftAdapter.key(mod.key(), f) + " rel err " + e);
                }
            }
            System.out.printf(
                    "golden %s+adapter f16=%s: logits rel %.2e, token logprob rel %.2e, grad rel %.2e%n",
                    name, f16, logitErr, tokErr, gradErr);
            assertTrue(logitErr < TOL, "logits rel err " + logitErr);
            assertTrue(tokErr < TOL, "token log-prob rel err " + tokErr);
        }
    }
}
