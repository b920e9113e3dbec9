package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.paft.io.FloatTensor;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraModule;
import dev.paft.io.PeftAdapter;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Logits, label log-probs and LoRA gradients against the plain-PyTorch reference (golden files). */
class LlamaModelGoldenTest {
    static final double TOL = 1e-4;

    @ParameterizedTest(name = "{0} f16Storage={1}")
    @CsvSource({"llama,false", "llama-tied-bf16,false", "qwen2-f16,false", "qwen2-f16,true", "llama3-scaled,false",
            "mistral,false", "llama-tied-bf16,true"})
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
            double logitErr = Fixtures.relErr(Fixtures.realPositions(logits.toFloatArray(), m, v),
                    Fixtures.realPositions(g.get("logits").data(), m, v));
            Scoring.LabelLogProbs lp = Scoring.labelLogProbs(logits, labels);
            double tokErr = Fixtures.elementRelErr(lp.tokens().toFloatArray(), g.get("token_logprobs").data());
            double sumErr = Fixtures.elementRelErr(lp.sum().toFloatArray(), g.get("sum_logprobs").data());
            System.out.printf("golden %s f16=%s: logits rel %.2e, token logprob rel %.2e, sum rel %.2e%n",
                    name, f16, logitErr, tokErr, sumErr);
            assertTrue(logitErr < TOL, "logits rel err " + logitErr);
            assertTrue(tokErr < TOL, "token log-prob rel err " + tokErr);
            assertTrue(sumErr < TOL, "sum log-prob rel err " + sumErr);
            assertEquals(0, Fixtures.relErr(lp.count().toFloatArray(), g.get("count").data()), 0);

            Scoring.Scores s = Scoring.score(model, model.manager(), ids, mask, labels, null);
            for (int i = 0; i < s.sum().length; i++) {
                assertEquals(g.get("sum_logprobs").data()[i], s.sum()[i], TOL * Math.max(1, Math.abs(s.sum()[i])));
            }
        }
    }

    @ParameterizedTest(name = "{0} f16Storage={1}")
    @CsvSource({"llama,false", "qwen2-f16,false", "qwen2-f16,true", "mistral,false"})
    void adapterAndGradientsMatchReference(String name, boolean f16) {
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
            double logitErr = Fixtures.relErr(Fixtures.realPositions(logits.toFloatArray(), m, v),
                    Fixtures.realPositions(g.get("lora_logits").data(), m, v));
            Scoring.LabelLogProbs lp = Scoring.labelLogProbs(logits, labels);
            double tokErr = Fixtures.elementRelErr(lp.tokens().toFloatArray(), g.get("lora_token_logprobs").data());
            NDArray loss = lp.sum().sum().neg().div(lp.count().sum());        // mean token cross-entropy
            assertEquals(g.get("lora_loss").data()[0], loss.getFloat(), TOL);
            adapter.zeroGradients();
            Autograd.backward(loss);
            Autograd.setGradMode(was);
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
            System.out.printf("golden %s+adapter f16=%s: logits rel %.2e, token logprob rel %.2e, grad rel %.2e%n",
                    name, f16, logitErr, tokErr, gradErr);
            assertTrue(logitErr < TOL, "logits rel err " + logitErr);
            assertTrue(tokErr < TOL, "token log-prob rel err " + tokErr);
        }
    }
}
