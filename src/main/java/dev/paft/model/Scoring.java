package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import dev.paft.lora.LoraAdapter;

/**
 * Log-probabilities of labelled tokens: the logits at position t score the label at t+1
 * ({@code lp_t = log_softmax(logits_t)[labels_{t+1}]}); labels equal to {@link #IGNORE} (-100: prompt,
 * padding) count for nothing. Per row: the sum over labelled tokens and their count (mean = sum / count).
 *
 * <p>Shapes: logits [B, T, V], labels [B, T] int64 aligned with input ids, token log-probs [B, T-1].
 */
public final class Scoring {
    public static final long IGNORE = -100;

    private Scoring() {}

    /**
     * Per-row label log-probs on the logits' manager, differentiable through {@code logits} (the trainers'
     * version).
     *
     * @param tokens [B, T-1] per-token log-prob, 0 where ignored
     * @param sum [B] sum over labelled tokens
     * @param count [B] float32 number of labelled tokens
     */
    public record LabelLogProbs(NDArray tokens, NDArray sum, NDArray count) {
        /** Length-averaged log-prob [B] (0 for rows with no labels). */
        public NDArray mean() {
            return sum.div(count.maximum(1f));   // count carries no gradient: a Java number is safe here
        }
    }

    /** Label log-probs of a batch, see {@link LabelLogProbs}. */
    public static LabelLogProbs labelLogProbs(NDArray logits, NDArray labels) {
        NDManager scope = logits.getManager();
        long t = logits.getShape().get(1);
        NDArray lg = logits.get(new NDIndex(":, 0:{}, :", t - 1));                     // [B, T-1, V] predicts
        NDArray lb = labels.get(scope, new NDIndex(":, 1:"));                          // [B, T-1] next tokens
        if (lb.getDataType() != DataType.INT64) {
            lb = lb.toType(DataType.INT64, false);
        }
        NDArray keep = lb.neq(IGNORE).toType(DataType.FLOAT32, false);                // [B, T-1] 1 = labelled
        NDArray safe = lb.maximum(0).expandDims(-1);                                   // [B, T-1, 1] -100 -> 0
        NDArray lp = lg.logSoftmax(-1).gather(safe, 2).squeeze(-1).mul(keep);         // [B, T-1]
        return new LabelLogProbs(lp, lp.sum(new int[] {1}), keep.sum(new int[] {1}));
    }

    /** Sums and counts read back to Java, for evaluation. */
    public record Scores(double[] sum, int[] count) {
        public double mean(int row) {
            return count[row] == 0 ? 0 : sum[row] / count[row];
        }
    }

    /**
     * Forward + label log-probs under no-grad (evaluation, DPO reference): nothing is recorded for
     * autograd and every array is freed before returning.
     */
    public static Scores score(LlamaModel model, NDManager parent, NDArray inputIds, NDArray attentionMask,
                               NDArray labels, LoraAdapter adapter) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager scope = parent.newSubManager()) {
            NDArray logits = model.forward(scope, inputIds, attentionMask, adapter, false);
            LabelLogProbs lp = labelLogProbs(logits, labels);
            float[] s = lp.sum().toFloatArray();
            float[] c = lp.count().toFloatArray();
            double[] sum = new double[s.length];
            int[] count = new int[c.length];
            for (int i = 0; i < s.length; i++) {
                sum[i] = s[i];
                count[i] = Math.round(c[i]);
            }
            return new Scores(sum, count);
        } finally {
            JniUtils.setGradMode(grad);
        }
    }
}
