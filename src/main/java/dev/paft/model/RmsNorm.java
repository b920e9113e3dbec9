package dev.paft.model;

import ai.djl.ndarray.NDArray;

/**
 * Root-mean-square layer norm: {@code y = w * x / sqrt(mean(x^2, -1) + eps)} (HF LlamaRMSNorm, float32).
 *
 * <p>Shapes: x [..., hidden], w [hidden], y like x.
 */
public final class RmsNorm {
    private RmsNorm() {}

    /** @param eps float32 scalar tensor */
    public static NDArray rmsNorm(NDArray x, NDArray weight, NDArray eps) {
        int last = x.getShape().dimension() - 1;
        NDArray meanSquare = x.square().mean(new int[] {last}, true);   // [..., 1]
        return x.div(meanSquare.add(eps).sqrt()).mul(weight);            // x * rsqrt(ms + eps) * w
    }
}
