package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Map;

/**
 * A training objective on micro-batches of examples of type {@code E}: SFT (cross-entropy plus
 * the L1 penalty) or preference (DPO family, ORPO). The loop owns everything else.
 */
public interface Objective<E> {

    /**
     * The loss on one micro-batch, with its graph when {@code training}.
     *
     * @param metrics scalar arrays logged by name (e.g. "ce", "l1", "rewards/chosen"); "loss" is added by the loop
     * @param tokens tokens processed (for tokens/s)
     * @param backward the rest of the backward pass, run by the loop right after the loss's own backward: it
     *     carries the loss gradient through the chunked LM head and the decoder stack into the adapter (null
     *     when not training)
     */
    record Output(NDArray loss, Map<String, NDArray> metrics, long tokens, Runnable backward) {}

    /** Computes the loss of {@code batch}; arrays belong to {@code scope}. */
    Output forward(NDManager scope, List<E> batch, boolean training);

    /**
     * How much {@code batch} counts among the micro-batches of one optimizer step: micro-batch k's loss is
     * scaled by {@code weight_k / sum_j weight_j}. The default, 1, averages micro-batches (TRL's preference
     * trainers: loss / gradient_accumulation_steps); SFT weighs by labelled tokens.
     */
    default double weight(List<E> batch) {
        return 1;
    }
}
