package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Log-probabilities of label tokens: {@code logp[b, t] = log_softmax(logits[b, t])[labels[b, t]]}.
 *
 * <p>Shapes: logits [B, T, V] (float), labels [B, T] (int64). Label {@value #IGNORE_INDEX}
 * marks a position that is not scored (prompt, padding); its log-prob is 0 and it is not
 * counted.
 *
 * <p><b>Alignment convention.</b> Every method here takes <em>aligned</em> inputs:
 * {@code logits[:, t]} predicts {@code labels[:, t]}. A causal LM's raw output is not aligned
 * with its input ids (position t predicts token t+1); {@link #shift} makes it so, exactly as
 * Hugging Face's causal-LM loss does: {@code logits[:, :-1]} against {@code labels[:, 1:]},
 * where {@code labels} is the input ids with ignored positions set to -100.
 */
public final class TokenLogProbs {
    /** Label value of positions that are not scored (PyTorch's {@code ignore_index}). */
    public static final long IGNORE_INDEX = -100;

    /** Logits and labels aligned so that {@code logits[:, t]} predicts {@code labels[:, t]}. */
    public record Aligned(NDArray logits, NDArray labels) {}

    private TokenLogProbs() {}

    /**
     * Aligns a causal LM's output with its labels: {@code logits[:, :-1]} ([B, T-1, V]) against
     * {@code labels[:, 1:]} ([B, T-1]).
     */
    public static Aligned shift(NDArray logits, NDArray labels) {
        return new Aligned(logits.get(":, :-1, :"), labels.get(":, 1:"));
    }

    /**
     * The same alignment with the labels moved instead of the logits: {@code logits} ([B, T, V], unchanged)
     * against {@code labels[:, 1:]} followed by one {@value #IGNORE_INDEX} ([B, T]); the last position, which
     * predicts nothing, is not scored. Same sums, counts and gradients as {@link #shift}, but no [B, T-1, V]
     * slice of the logits: under autograd that slice costs a zero-filled [B, T, V] in backward, and its
     * log-softmax first copies it to make it contiguous (together ~1/8 of a medium training step on 2 cores,
     * docs/BENCHMARKS.md). What the trainers use.
     */
    public static Aligned align(NDArray logits, NDArray labels) {
        long b = labels.getShape().get(0);
        NDArray next = labels.get(":, 1:");                                              // [B, T-1]
        NDArray none = labels.getManager().full(new Shape(b, 1), (float) IGNORE_INDEX, labels.getDataType());
        return new Aligned(logits, next.concat(none, 1));                                // [B, T]
    }

    /** True where the label is scored ({@code label != -100}), shape [B, T]. */
    public static NDArray mask(NDArray labels) {
        return labels.neq(IGNORE_INDEX);
    }

    /** Per-token log-probs [B, T] of aligned labels, 0 at ignored positions. */
    public static NDArray perToken(NDArray logits, NDArray labels) {
        NDArray mask = mask(labels);
        NDArray index = NDArrays.where(mask, labels, labels.zerosLike());        // -100 -> 0 for gather
        NDArray logp = logits.logSoftmax(-1)                                     // [B, T, V]
                .gather(index.expandDims(-1), -1)                                // [B, T, 1]
                .squeeze(-1);                                                    // [B, T]
        return NDArrays.where(mask, logp, logp.zerosLike());
    }

    /** Sum, count and mean of the label log-probs of each sequence (aligned inputs). */
    public static SequenceLogProbs sequences(NDArray logits, NDArray labels) {
        NDArray perToken = perToken(logits, labels);
        NDArray sum = perToken.sum(new int[] {1});                               // [B]
        NDArray count = tokenCounts(labels, logits.getDataType());               // [B]
        // count carries no gradient, so a Java number operand is safe here.
        return new SequenceLogProbs(sum, count, sum.div(count.maximum(1)));
    }

    /** Number of scored labels in each sequence as {@code dataType}, shape [B]. */
    public static NDArray tokenCounts(NDArray labels, DataType dataType) {
        return mask(labels).toType(dataType, false).sum(new int[] {1});
    }
}
