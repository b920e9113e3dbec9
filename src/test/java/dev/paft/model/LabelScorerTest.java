package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.train.loss.Golden;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The chunked label scorer against PyTorch (scripts/golden/train_parts.py, {@code token_logprobs}): with an
 * identity LM head the hidden states are the logits, so per-token log-probs, per-row sums and counts, the mean
 * cross-entropy and its gradient with respect to the logits are checked directly, for every chunk size.
 */
class LabelScorerTest {
    private static final JsonNode GOLDEN = Golden.load("golden_losses.json").get("token_logprobs");

    @Test
    void logProbsSumsCountsAndCrossEntropyGradientMatchPyTorch() {
        for (JsonNode c : GOLDEN) {
            long[] s = Golden.longs(c.get("shape"));
            int b = (int) s[0];
            int t = (int) s[1];
            int v = (int) s[2];
            boolean shift = c.get("shift").asBoolean();
            for (int chunk : new int[] {1, 2, 5, 1024}) {
                String what = (shift ? "shifted" : "aligned") + " chunk " + chunk;
                try (NDManager m = NDManager.newBaseManager()) {
                    NDArray logits = Golden.array(m, c.get("logits"), new Shape(s), DataType.FLOAT32);
                    long[] labels = Golden.longs(c.get("labels"));
                    long[] aligned = shift ? LabelScorer.align(labels, b, t) : labels;
                    LabelScorer.Scored sc = new LabelScorer(m.eye(v), chunk).score(m, logits, aligned);
                    double[] perToken = Golden.doubles(c.get("per_token"));
                    int cols = shift ? t - 1 : t;
                    for (int r = 0; r < b; r++) {
                        for (int j = 0; j < cols; j++) {
                            assertEquals(
                                    perToken[r * cols + j],
                                    sc.tokens(0)[r * t + j],
                                    1e-5,
                                    what + " token " + r + "," + j);
                        }
                    }
                    double[] sums = Golden.doubles(c.get("sum"));
                    double[] counts = Golden.doubles(c.get("count"));
                    long n = 0;
                    double total = 0;
                    for (int r = 0; r < b; r++) {
                        assertEquals(sums[r], sc.sums(0)[r], 1e-5, what + " sum " + r);
                        assertEquals(counts[r], sc.counts(0)[r], 0, what + " count " + r);
                        n += sc.counts(0)[r];
                        total += sc.sums(0)[r];
                    }
                    assertEquals(c.get("ce").asDouble(), -total / n, 1e-5, what + " ce");
                    float[] w = new float[b];
                    Arrays.fill(w, (float) (-1.0 / n));
                    float[] grad = sc.gradient(new float[][] {w}).toFloatArray();
                    double[] ref = Golden.doubles(c.get("ce_grad_logits"));
                    assertEquals(ref.length, grad.length);
                    for (int i = 0; i < ref.length; i++) {
                        assertEquals(ref[i], grad[i], 1e-6, what + " ce gradient " + i);
                    }
                }
            }
        }
    }

    @Test
    void alignMovesLabelsLeftAndIgnoresTheLastPosition() {
        long[] labels = {-100, 5, 6, 7, -100, -100, 8, -100};
        assertArrayEquals(new long[] {5, 6, 7, -100, -100, 8, -100, -100}, LabelScorer.align(labels, 2, 4));
    }

    @Test
    void positionsWithoutLabelsAreSkippedAndCountNothing() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray h = m.randomNormal(new Shape(2, 4, 3));
            long[] none = {-100, -100, -100, -100, -100, -100, -100, -100};
            LabelScorer.Scored sc = new LabelScorer(m.eye(3), 2).score(m, h, none);
            assertArrayEquals(new int[] {0, 0}, sc.counts(0));
            assertArrayEquals(new double[] {0, 0}, sc.sums(0));
            assertEquals(0f, sc.gradient(new float[][] {{1f, 1f}}).abs().sum().getFloat());
        }
    }
}
