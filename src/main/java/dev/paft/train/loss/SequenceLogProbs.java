package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;

/**
 * Per-sequence log-probabilities of the labelled tokens.
 *
 * @param sum   {@code sum_t log p(label_t)} over labelled tokens, shape [B]
 * @param count number of labelled tokens, same float dtype as {@code sum}, shape [B]
 * @param mean  {@code sum / max(count, 1)}, shape [B]
 */
public record SequenceLogProbs(NDArray sum, NDArray count, NDArray mean) {}
