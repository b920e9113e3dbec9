package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.paft.engine.GradMode;
import dev.paft.lora.LoraAdapter;

/**
 * Evaluation scores of labelled tokens: the logits at position t score the label at t+1
 * ({@code lp_t = log_softmax(logits_t)[labels_{t+1}]}); labels equal to {@link #IGNORE} (-100: prompt,
 * padding) count for nothing. Per row: the sum over labelled tokens and their count (mean = sum / count).
 * Computed by the one label scorer ({@link LabelScorer}) in chunks of {@link LabelScorer#DEFAULT_CHUNK}.
 *
 * <p>Shapes: labels [B, T] int64 aligned with input ids.
 */
public final class Scoring {
    public static final long IGNORE = LabelScorer.IGNORE;

    private Scoring() {}

    /** Sums and counts read back to Java, for evaluation. */
    public record Scores(double[] sum, int[] count) {
        public double mean(int row) {
            return count[row] == 0 ? 0 : sum[row] / count[row];
        }
    }

    /**
     * Forward + label log-probs under no-grad (evaluation): nothing is recorded for autograd and every array is
     * freed before returning.
     */
    public static Scores score(
            LlamaModel model,
            NDManager parent,
            NDArray inputIds,
            NDArray attentionMask,
            NDArray labels,
            LoraAdapter adapter) {
        try (GradMode off = GradMode.off();
                NDManager scope = parent.newSubManager()) {
            NDArray hidden = model.hidden(scope, inputIds, attentionMask, null, adapter, null, false);
            int rows = Math.toIntExact(labels.getShape().get(0));
            int cols = Math.toIntExact(labels.getShape().get(1));
            long[] aligned = LabelScorer.align(labels.toLongArray(), rows, cols);
            LabelScorer.Scored s = model.scorer(LabelScorer.DEFAULT_CHUNK).score(scope, hidden, aligned);
            return new Scores(s.sums(0).clone(), s.counts(0).clone());
        }
    }
}
