package dev.paft.model;

import ai.djl.ndarray.NDArray;

/**
 * SwiGLU feed-forward (HF LlamaMLP): {@code y = W_down (silu(W_gate x) * W_up x)}, {@code silu(z) = z sigmoid(z)}.
 *
 * <p>Shapes: x [B, T, hidden], gate/up [B, T, intermediate], y [B, T, hidden].
 */
public final class Mlp {
    private Mlp() {}

    static NDArray forward(Pass p, LayerWeights w, NDArray x) {
        NDArray gate = p.project(w, Proj.GATE, x); // [B, T, I]
        NDArray up = p.project(w, Proj.UP, x); // [B, T, I]
        return p.project(w, Proj.DOWN, silu(gate).mul(up)); // [B, T, hidden]
    }

    /** {@code z * sigmoid(z)} (DJL's swish takes a Java number: unsafe under autograd). */
    public static NDArray silu(NDArray z) {
        return z.mul(z.getNDArrayInternal().sigmoid());
    }
}
