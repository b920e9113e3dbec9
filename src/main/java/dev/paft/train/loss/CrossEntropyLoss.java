package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;

/**
 * Token cross-entropy averaged over the labelled tokens of the whole batch:
 * {@code L = -(1 / N) sum_{b,t: label != -100} log p(label[b,t] | h[b,t])},
 * N = number of labelled tokens in the batch (Hugging Face / TRL {@code reduction="mean"}),
 * from the per-row sums of label log-probs ({@code dev.paft.model.LabelScorer}).
 * With no labelled token the loss is 0 (N is clamped to 1) rather than NaN.
 */
public final class CrossEntropyLoss {
    private CrossEntropyLoss() {}

    /**
     * {@code -sum(rowSums) / max(N, 1)}.
     *
     * @param rowSums per-row sums of label log-probs [B] (may require a gradient)
     * @param labelled N, the labelled tokens in those rows
     */
    public static NDArray fromSums(NDArray rowSums, long labelled) {
        NDArray n =
                rowSums.getManager().create((float) Math.max(1, labelled)); // a tensor, not a Java number (autograd)
        return rowSums.sum().neg().div(n);
    }
}
