package dev.paft.lora;

import ai.djl.ndarray.NDArray;

/**
 * A linear layer with an optional LoRA branch, PEFT's forward:
 * {@code y = x W^T + b + scaling * dropout(x) A^T B^T}.
 *
 * <p>Shapes: x [..., in], W [out, in], b [out] or null, A [r, in], B [out, r], y [..., out].
 * Frozen weights held in 2 bytes ({@code model.dtype} f16 or bf16) are widened to F32 per use by the caller
 * (the model's {@code Pass.use}); A and B are F32 and carry gradients.
 *
 * <p>Dropout draws from PyTorch's global generator. {@code LlamaModel} re-seeds it before every decoder layer
 * from (dropout seed, layer index), and the training loop sets the dropout seed per micro-batch from (seed,
 * step, micro-batch): a layer recomputed by activation checkpointing draws the same masks, and a resumed run
 * the same masks as the uninterrupted one. As in PEFT each adapted module draws its own mask.
 */
public final class LoraLinear {
    private LoraLinear() {}

    /** {@code y = x W^T + b} (b may be null), torch's fused linear. */
    public static NDArray linear(NDArray x, NDArray w, NDArray b) {
        return x.getNDArrayInternal().linear(x, w, b).singletonOrThrow();
    }

    /**
     * {@code y = x W^T + b + scaling * B(A(dropout(x)))}; with {@code lora == null} just the base linear.
     *
     * @param scaling a float32 scalar tensor (never a Java number: autograd trap)
     */
    public static NDArray forward(
            NDArray x, NDArray w, NDArray b, LoraModule lora, NDArray scaling, float dropout, boolean training) {
        NDArray y = linear(x, w, b); // [..., out]
        if (lora == null) {
            return y;
        }
        return y.add(branch(x, lora, scaling, dropout, training)); // + scaling * B A x
    }

    /** The LoRA branch alone: {@code scaling * B(A(dropout(x)))} [..., out], in x's dtype (float32 factors). */
    public static NDArray branch(NDArray x, LoraModule lora, NDArray scaling, float dropout, boolean training) {
        NDArray xd = dropout > 0 && training
                ? x.getNDArrayInternal().dropout(x, dropout, true).singletonOrThrow()
                : x;
        NDArray ax = linear(xd, lora.a(), null); // [..., r]
        return linear(ax, lora.b(), null).mul(scaling);
    }
}
