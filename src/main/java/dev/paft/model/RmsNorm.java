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
        NDArray sq = x.square();
        NDArray meanSquare = sq.mean(new int[] {last}, true);           // [..., 1]
        sq.close();   // consumed; closing a handle never frees what autograd saved (see Attention.attend)
        NDArray msEps = meanSquare.add(eps);
        meanSquare.close();
        NDArray normed = x.div(msEps.sqrt());
        msEps.close();
        NDArray y = normed.mul(weight);                                  // x * rsqrt(ms + eps) * w
        normed.close();
        return y;
    }
}
