package dev.paft.model;

import ai.djl.ndarray.NDArray;

/**
 * A pre-norm decoder layer: {@code h = x + Attn(RMSNorm(x))}, {@code out = h + MLP(RMSNorm(h))}.
 *
 * <p>Shapes: x and out [B, T, hidden].
 */
public final class DecoderLayer {
    private DecoderLayer() {}

    static NDArray forward(Pass p, LayerWeights w, NDArray x) {
        NDArray h = x.add(Attention.forward(p, w, RmsNorm.apply(p, x, w.inputNorm()))); // h = x + Attn(norm(x))
        return h.add(Mlp.forward(p, w, RmsNorm.apply(p, h, w.postNorm()))); // out = h + MLP(norm(h))
    }
}
