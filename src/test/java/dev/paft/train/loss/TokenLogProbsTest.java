package dev.paft.train.loss;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import static dev.paft.train.loss.Golden.assertClose;
import static dev.paft.train.loss.Golden.doubles;
import static org.junit.jupiter.api.Assertions.assertEquals;

class TokenLogProbsTest {
    private static final JsonNode GOLDEN = Golden.load("golden_losses.json").get("token_logprobs");

    @Test
    void logProbsCrossEntropyAndGradientMatchPyTorch() {
        for (JsonNode c : GOLDEN) {
            try (NDManager m = NDManager.newBaseManager()) {
                long[] s = Golden.longs(c.get("shape"));
                NDArray logits = Golden.array(m, c.get("logits"), new Shape(s), DataType.FLOAT32);
                NDArray labels = m.create(Golden.longs(c.get("labels")), new Shape(s[0], s[1]));
                logits.setRequiresGradient(true);
                String what = c.get("shift").asBoolean() ? "shifted" : "aligned";
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    TokenLogProbs.Aligned a = c.get("shift").asBoolean()
                            ? TokenLogProbs.shift(logits, labels) : new TokenLogProbs.Aligned(logits, labels);
                    assertClose(doubles(c.get("per_token")), TokenLogProbs.perToken(a.logits(), a.labels()), 1e-5, what + " per-token");
                    SequenceLogProbs seq = TokenLogProbs.sequences(a.logits(), a.labels());
                    assertClose(doubles(c.get("sum")), seq.sum(), 1e-5, what + " sum");
                    assertClose(doubles(c.get("count")), seq.count(), 0, what + " count");
                    assertClose(doubles(c.get("mean")), seq.mean(), 1e-5, what + " mean");
                    NDArray ce = new CrossEntropyLoss().compute(a.logits(), a.labels());
                    assertClose(c.get("ce").asDouble(), ce, 1e-5, what + " ce");
                    gc.backward(ce);
                }
                assertClose(doubles(c.get("ce_grad_logits")), logits.getGradient(), 1e-5, what + " ce grad");
            }
        }
    }

    @Test
    void shiftAlignsPositionTWithTokenTPlusOne() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = m.arange(2 * 4 * 3f).reshape(2, 4, 3);
            NDArray ids = m.create(new long[] {-100, -100, 1, 2, -100, 0, 1, -100}, new Shape(2, 4));
            TokenLogProbs.Aligned a = TokenLogProbs.shift(logits, ids);
            assertEquals(new Shape(2, 3, 3), a.logits().getShape());
            assertEquals(new Shape(2, 3), a.labels().getShape());
            assertEquals(logits.get(1, 2, 0).getFloat(), a.logits().get(1, 2, 0).getFloat());
            assertEquals(ids.get(1, 3).getLong(), a.labels().get(1, 2).getLong());
        }
    }

    @Test
    void alignScoresExactlyWhatShiftScores() {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(3);
            long[] ids = {-100, -100, 4, 2, 6, -100, 1, 0, 5, -100};
            double[][] out = new double[2][];
            float[][] grads = new float[2][];
            for (int way = 0; way < 2; way++) {
                NDArray logits = m.randomNormal(new Shape(2, 5, 7));
                logits.setRequiresGradient(true);
                NDArray labels = m.create(ids, new Shape(2, 5));
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    TokenLogProbs.Aligned a = way == 0 ? TokenLogProbs.shift(logits, labels) : TokenLogProbs.align(logits, labels);
                    SequenceLogProbs seq = TokenLogProbs.sequences(a.logits(), a.labels());
                    NDArray ce = CrossEntropyLoss.crossEntropy(a.logits(), a.labels());
                    float[] sum = seq.sum().toFloatArray();
                    float[] count = seq.count().toFloatArray();
                    out[way] = new double[] {sum[0], sum[1], count[0], count[1], ce.getFloat()};
                    gc.backward(ce);
                }
                grads[way] = logits.getGradient().toFloatArray();
                m.getEngine().setRandomSeed(3);
            }
            assertEquals(6, out[1][2] + out[1][3]);    // scored: 4, 2, 6 and 1, 0, 5
            for (int i = 0; i < out[0].length; i++) {
                assertEquals(out[0][i], out[1][i], 1e-6 * Math.max(1, Math.abs(out[0][i])), "value " + i);
            }
            for (int i = 0; i < grads[0].length; i++) {
                assertEquals(grads[0][i], grads[1][i], 1e-7f, "ce gradient " + i);
            }
        }
    }

    @Test
    void crossEntropyWithNoLabelsIsZero() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = m.randomNormal(new Shape(1, 3, 5));
            NDArray labels = m.full(new Shape(1, 3), -100L);
            assertEquals(0.0, CrossEntropyLoss.crossEntropy(logits, labels).getFloat(), 0.0);
        }
    }
}
