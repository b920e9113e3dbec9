package dev.paft.eval;

import dev.paft.errors.PaftException;

/**
 * How evaluators batch and truncate.
 *
 * @param batchSize sequences per forward pass (preference: pairs, two rows each)
 * @param maxLength longest scored sequence in tokens; longer context + continuation keeps its last
 *     {@code maxLength} tokens (lm-eval-harness: the context is cut from the left)
 */
public record EvalOptions(int batchSize, int maxLength) {
    public EvalOptions {
        if (batchSize < 1) {
            throw PaftException.usage("batch size must be at least 1, got " + batchSize);
        }
        if (maxLength < 2) {
            throw PaftException.usage("max length must be at least 2, got " + maxLength);
        }
    }

    /** Batch 32 (within the logits budget), 1024 tokens. */
    public static EvalOptions defaults() {
        return new EvalOptions(32, 1024);
    }
}
