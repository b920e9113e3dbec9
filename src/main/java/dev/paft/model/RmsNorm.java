package dev.paft.model;

import ai.djl.ndarray.NDArray;
import dev.paft.engine.Torch;

/**
 * Root-mean-square layer norm: {@code y = w * x / sqrt(mean(x^2, -1) + eps)} (HF LlamaRMSNorm, float32).
 *
 * <p>Shapes: x [..., hidden], w [hidden], y like x.
 */
public final class RmsNorm {
    private RmsNorm() {}

    /**
     * The norm of a decoder layer in the pass's precision: in bf16 the statistics and the scaling by the (float32)
     * weight run in float32 on x cast up, and the result is cast back to bf16 (transformers' LlamaRMSNorm); both
     * casts keep autograd.
     */
    static NDArray apply(Pass p, NDArray x, NDArray weight) {
        NDArray eps = p.scalar(p.config().rmsNormEps());
        if (p.precision() != Precision.BF16) {
            return rmsNorm(x, weight, eps);
        }
        NDArray y = rmsNorm(Torch.cast(x, Torch.Dtype.F32, p.scope()), weight, eps);
        return Torch.cast(y, Torch.Dtype.BF16, p.scope());
    }

    /** @param eps float32 scalar tensor */
    public static NDArray rmsNorm(NDArray x, NDArray weight, NDArray eps) {
        int last = x.getShape().dimension() - 1;
        NDArray sq = x.square();
        NDArray meanSquare = sq.mean(new int[] {last}, true); // [..., 1]
        sq.close(); // consumed; closing a handle never frees what autograd saved (see Attention.attend)
        NDArray msEps = meanSquare.add(eps);
        meanSquare.close();
        NDArray normed = x.div(msEps.sqrt());
        msEps.close();
        NDArray y = normed.mul(weight); // x * rsqrt(ms + eps) * w
        normed.close();
        return y;
    }
}
