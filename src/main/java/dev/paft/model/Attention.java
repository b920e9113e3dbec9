package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.paft.engine.Torch;
import dev.paft.engine.TorchBootstrap;

/**
 * Causal self-attention with grouped-query heads and rotary positions (HF LlamaAttention):
 * {@code o = W_o softmax(q k^T / sqrt(d) + mask) v}, q = RoPE(W_q x), k = RoPE(W_k x), v = W_v x;
 * each of the {@code kvHeads} k/v heads serves {@code heads / kvHeads} consecutive query heads
 * (HF's repeat_kv, done here by grouping query heads instead of copying k and v).
 *
 * <p>The forward runs PyTorch's fused {@code scaled_dot_product_attention} ({@link Torch#sdpa}) for training, scoring
 * and evaluation: with {@code is_causal} and no mask on right-padded batches ({@link Pass#causalOnly}), else with
 * the additive causal + padding mask, and k/v repeated where the kernel needs it ({@link AttentionKernel}).
 * {@link #attend} is the explicit computation it replaces,
 * kept as the reference the tests hold it to (equal within 1e-5 in float32, forward and gradients), and used for
 * generation with a KV cache, where it keeps a batch's tokens identical to each prompt's alone.
 *
 * <p>Shapes: x [B, T, hidden], q [B, H, T, D], k/v [B, KV, S, D] (S = cached + T), out [B, T, hidden].
 */
public final class Attention {
    private Attention() {}

    static NDArray forward(Pass p, LayerWeights w, NDArray x) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        int h = p.config().numHeads();
        int kv = p.config().numKvHeads();
        int d = p.config().headDim();
        NDArray q = p.project(w, Proj.Q, x).reshape(b, t, h, d).transpose(0, 2, 1, 3); // [B, H, T, D]
        NDArray k = p.project(w, Proj.K, x).reshape(b, t, kv, d).transpose(0, 2, 1, 3); // [B, KV, T, D]
        NDArray v = p.project(w, Proj.V, x).reshape(b, t, kv, d).transpose(0, 2, 1, 3); // [B, KV, T, D]
        q = Rotary.apply(q, p.cos(), p.sin());
        k = Rotary.apply(k, p.cos(), p.sin());
        if (p.cache() != null) {
            NDArray[] kvAll = p.cache().append(p.scope(), w.index(), k, v); // [B, KV, S, D]
            k = kvAll[0];
            v = kvAll[1];
        }
        // Fused unless generating with a KV cache (or on an external libtorch, DJL alone): the CPU's fused kernel
        // sums in blocks that depend on the padded length, so a left-padded batch would sample other tokens than
        // each prompt alone; the explicit kernel keeps generation batch-invariant (decode steps are 1 query each).
        boolean fused = TorchBootstrap.bridgeAvailable() && p.cache() == null;
        NDArray o; // [B, H, T, D]
        if (fused) {
            NDArray mask = p.causalOnly() ? null : p.mask();
            o = fused(q, k, v, mask, p.precision() == Precision.BF16, 1.0 / Math.sqrt(d));
        } else {
            o = attend(q, k, v, p.mask(), p.scalar(1.0 / Math.sqrt(d)));
        }
        o = o.transpose(0, 2, 1, 3).reshape(b, t, (long) h * d); // [B, T, H*D]
        return p.project(w, Proj.O, o); // [B, T, hidden]
    }

    /**
     * The fused call shaped so that a fused kernel of libtorch 2.7.1 accepts it ({@link AttentionKernel}): is_causal
     * without a mask when {@code mask} is null (the pass is {@link Pass#causalOnly}: the kernels skip the blocks
     * above the diagonal and read no mask), else the additive mask; k and v repeated to the query heads where
     * grouped-query heads alone would send the call to the math fallback, which keeps float32 [B, H, T, S] scores;
     * on the CPU, bf16 inputs computed in float32 ({@link AttentionKernel#upcast}).
     *
     * @param q [B, H, T, D]
     * @param k [B, KV, T, D]
     * @param v [B, KV, T, D]
     * @param mask additive [B, 1, T, T] or [T, T] mask in q's dtype, or null for is_causal
     * @param lowPrecision q, k, v are bf16
     * @return [B, H, T, D]
     */
    static NDArray fused(NDArray q, NDArray k, NDArray v, NDArray mask, boolean lowPrecision, double scale) {
        long h = q.getShape().get(1);
        long kv = k.getShape().get(1);
        boolean cuda = q.getDevice().isGpu();
        boolean upcast = AttentionKernel.upcast(cuda, lowPrecision);
        if (upcast) {
            q = Torch.cast(q, Torch.Dtype.F32);
            k = Torch.cast(k, Torch.Dtype.F32);
            v = Torch.cast(v, Torch.Dtype.F32);
            mask = mask == null ? null : Torch.cast(mask, Torch.Dtype.F32);
            lowPrecision = false;
        }
        if (AttentionKernel.expandKv(cuda, lowPrecision, mask != null, kv < h)) {
            k = Torch.repeatHeads(k, h / kv); // [B, H, S, D]
            v = Torch.repeatHeads(v, h / kv);
        }
        NDArray o = Torch.sdpa(q, k, v, mask, mask == null, scale);
        return upcast ? Torch.cast(o, Torch.Dtype.BF16) : o;
    }

    /**
     * {@code softmax(q k^T * scale + mask) v} with grouped-query heads, computed op by op (the reference for the
     * fused kernel).
     *
     * @param q [B, H, T, D]
     * @param k [B, KV, S, D], H a multiple of KV; query head {@code g * H/KV + j} reads kv head g
     * @param v [B, KV, S, D]
     * @param mask additive, broadcastable to [B, H, T, S] ([T, S] or [B, 1, T, S]), or null
     * @param scale float32 scalar tensor, usually 1 / sqrt(D)
     * @return [B, H, T, D]
     */
    public static NDArray attend(NDArray q, NDArray k, NDArray v, NDArray mask, NDArray scale) {
        Shape qs = q.getShape();
        long b = qs.get(0);
        long h = qs.get(1);
        long t = qs.get(2);
        long d = qs.get(3);
        long kv = k.getShape().get(1);
        long s = k.getShape().get(2);
        // Consumed temporaries are closed at once rather than at the end of the step: closing a DJL handle
        // drops only that reference, so whatever autograd saved for backward stays alive, and the rest
        // (e.g. the un-masked scores, [B, H, T, S]) is freed now instead of piling up across layers.
        NDArray scaled = q.mul(scale);
        NDArray qg = scaled.reshape(b, kv, (h / kv) * t, d); // [B, KV, n*T, D]
        NDArray kt = k.transpose(0, 1, 3, 2);
        NDArray raw = qg.matMul(kt);
        NDArray scores = raw.reshape(b, h, t, s); // [B, H, T, S]
        close(scaled, qg, kt, raw);
        if (mask != null) {
            NDArray masked = scores.add(mask);
            scores.close();
            scores = masked;
        }
        NDArray sm = scores.softmax(-1);
        NDArray probs = sm.reshape(b, kv, (h / kv) * t, s); // [B, KV, n*T, S]
        NDArray o = probs.matMul(v);
        NDArray out = o.reshape(b, h, t, d); // [B, H, T, D]
        close(scores, sm, probs, o);
        return out;
    }

    private static void close(NDArray... xs) {
        for (NDArray x : xs) {
            x.close();
        }
    }

    /** Additive causal mask for T queries at positions S-T .. S-1 over S keys: 0 where j <= i, NEG above. */
    static NDArray causal(NDManager m, int cap, NDArray neg) {
        NDArray rows = m.arange(cap).reshape(cap, 1);
        NDArray cols = m.arange(cap).reshape(1, cap);
        return cols.gt(rows).toType(DataType.FLOAT32, false).mul(neg); // [cap, cap]
    }
}
