package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;

/**
 * Token cross-entropy averaged over the labelled tokens of the whole batch:
 * {@code L = -(1 / N) sum_{b,t: label != -100} log p(label[b,t] | logits[b,t])},
 * N = number of labelled tokens in the batch (Hugging Face / TRL {@code reduction="mean"}).
 *
 * <p>Shapes: logits [B, T, V], labels [B, T] int64, <em>aligned</em> (see
 * {@link TokenLogProbs}; use {@link TokenLogProbs#shift} on a causal LM's raw output).
 * With no labelled token the loss is 0 (N is clamped to 1) rather than NaN.
 */
public final class CrossEntropyLoss {

    /** The loss, a scalar tensor. */
    public NDArray compute(NDArray logits, NDArray labels) {
        return crossEntropy(logits, labels);
    }

    /** {@code -sum(logp over labelled tokens) / max(N, 1)}, aligned inputs. */
    public static NDArray crossEntropy(NDArray logits, NDArray labels) {
        NDArray total = TokenLogProbs.perToken(logits, labels).sum();            // scalar
        NDArray n = TokenLogProbs.mask(labels).toType(logits.getDataType(), false).sum();
        return total.neg().div(n.maximum(1));                                    // n has no gradient
    }
}
