package dev.paft.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import dev.paft.engine.GradMode;
import java.util.List;

/**
 * Global-norm gradient clipping as {@code torch.nn.utils.clip_grad_norm_}:
 * {@code n = ||(||g_1||_2, ..., ||g_k||_2)||_2}; every g is scaled in place by
 * {@code c = min(1, maxNorm / (n + 1e-6))}, so gradients change only when n &gt; maxNorm
 * (approximately). The coefficient is computed in float32 like PyTorch's.
 *
 * <p>DJL's {@code optClipGrad} clamps elements; this is the norm clipping HF's Trainer does.
 */
public final class GradClip {
    private GradClip() {}

    /**
     * Clips {@code grads} in place (they must share storage with the parameters' gradients, as
     * {@code NDArray.getGradient()} does) and returns the pre-clip global norm (NaN/Inf pass
     * through; the caller decides).
     */
    public static double clipGradNorm(List<NDArray> grads, double maxNorm) {
        if (grads.isEmpty()) {
            return 0.0;
        }
        try (GradMode off = GradMode.off();
                NDList norms = new NDList()) {
            for (NDArray g : grads) {
                norms.add(g.norm()); // ||g_i||_2, float32
            }
            NDArray stacked = NDArrays.stack(norms);
            norms.add(stacked);
            NDArray totalT = stacked.norm();
            norms.add(totalT);
            NDArray total64 = totalT.toType(DataType.FLOAT64, true);
            norms.add(total64);
            float total = (float) total64.getDouble(); // exact for float32 grads
            // PyTorch: max_norm / (total + 1e-6) evaluates as reciprocal(total + 1e-6) * max_norm in float32.
            float coef = Math.min(1f, (1f / (total + 1e-6f)) * (float) maxNorm);
            if (coef < 1f) {
                for (NDArray g : grads) {
                    g.muli(coef); // no grad mode: a Java number is safe
                }
            }
            return total;
        }
    }
}
