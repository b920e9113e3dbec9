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
     */
    record Output(NDArray loss, Map<String, NDArray> metrics, long tokens) {}

    /** Computes the loss of {@code batch}; arrays belong to {@code scope}. */
    Output forward(NDManager scope, List<E> batch, boolean training);
}
