package dev.paft.model;

import ai.djl.ndarray.NDArray;

/**
 * The final hidden states of one training micro-batch (after the last RMSNorm, [rows, T, H], carrying no
 * autograd graph) and the way back: {@link #backward} takes {@code dL/dh} and accumulates the gradients
 * of the LoRA factors, either through the graph kept from the forward pass or, with activation
 * checkpointing, by recomputing one decoder layer at a time ({@link LlamaModel#trainingForward}).
 *
 * <p>The loss side never sees the decoder graph: it scores the hidden states in chunks
 * ({@link LabelScorer}) and hands back their gradient, so the LM head's [rows, T, vocab] logits are never
 * kept for backward.
 */
public final class TrainingForward {
    /** Propagates {@code dL/dh} through the decoder stack. */
    interface Backward {
        void run(NDArray gradHidden);
    }

    private final NDArray hidden;
    private final Backward backward;

    TrainingForward(NDArray hidden, Backward backward) {
        this.hidden = hidden;
        this.backward = backward;
    }

    /** Final hidden states [rows, T, H] float32, detached. */
    public NDArray hidden() {
        return hidden;
    }

    /** True when {@link #backward} can run (a training forward under grad mode). */
    public boolean hasBackward() {
        return backward != null;
    }

    /**
     * Back-propagates {@code gradHidden} ([rows, T, H], {@code dL/dh}) into the adapter's factors; call once.
     */
    public void backward(NDArray gradHidden) {
        if (backward == null) {
            throw new IllegalStateException(
                    "this forward was not recorded for backward (no grad mode or not training)");
        }
        backward.run(gradHidden);
    }
}
