package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.paft.engine.Scalars;
import dev.paft.engine.Torch;
import dev.paft.io.HfModelConfig;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraLinear;

/**
 * What one forward pass shares across layers: the step scope every result lands on, rotary tables,
 * the additive attention mask (rotary tables and mask in the compute dtype), the adapter (or null), the
 * training flag, the KV cache (or null), the compute precision, whether the mask is causal plus right padding only
 * ({@code causalOnly}) and cached scalar constants.
 *
 * <p>{@code causalOnly}: no KV cache, positions from 0, and every row's real tokens before its padding ({@link
 * #rightPadded}). Then the fused attention runs with {@code is_causal} and no mask, which is exact at every real
 * query: a query attends to no key after it, and a row's pads all come after its real tokens. Only the pad queries'
 * outputs change (they attend to earlier pads too), and nothing reads them: their labels are ignored, and no real
 * query attends to a later position. The mask is then null when the fused kernel is available (it is not needed).
 */
record Pass(
        NDManager scope,
        HfModelConfig config,
        NDArray cos,
        NDArray sin,
        NDArray mask,
        LoraAdapter adapter,
        boolean training,
        KvCache cache,
        Precision precision,
        boolean causalOnly) {
    /**
     * False only in tests that compare the is_causal path with the masked one on the same batch
     * (CausalSdpaTest); {@link #causalOnly(NDArray)} then always answers false.
     */
    static volatile boolean causalShortcut = true;

    /** Whether a pass over this [B, S] mask (no KV cache, positions from 0) is {@code causalOnly}. */
    static boolean causalOnly(NDArray attentionMask) {
        return causalShortcut && rightPadded(attentionMask);
    }

    /**
     * True when every row of a [B, S] attention mask (1 real, 0 pad) is its real tokens followed by its padding
     * (non-increasing along the row; a row of only padding counts), or when there is no mask. Reads the mask back to
     * the host (B x S values, once per forward).
     */
    static boolean rightPadded(NDArray attentionMask) {
        if (attentionMask == null) {
            return true;
        }
        long cols = attentionMask.getShape().get(1);
        float[] v;
        if (attentionMask.getDataType() == DataType.FLOAT32) {
            v = attentionMask.toFloatArray();
        } else {
            try (NDArray f = attentionMask.toType(DataType.FLOAT32, false)) {
                v = f.toFloatArray();
            }
        }
        for (int i = 0; i < v.length; i++) {
            if (i % cols != 0 && v[i] > v[i - 1]) {
                return false;
            }
        }
        return true;
    }

    /** A float32 scalar constant on this pass's device (cached; see {@link Scalars}). */
    NDArray scalar(double v) {
        return Scalars.of(v, scope.getDevice());
    }

    /** Projection {@code p} of layer {@code w} applied to x, with its LoRA branch when adapted: [..., out]. */
    NDArray project(LayerWeights w, Proj p, NDArray x) {
        NDArray weight = use(w.proj()[p.ordinal()]);
        NDArray bias = w.bias() == null || w.bias()[p.ordinal()] == null ? null : use(w.bias()[p.ordinal()]);
        if (adapter == null) {
            return LoraLinear.linear(x, weight, bias);
        }
        if (precision == Precision.BF16) {
            // PEFT with a bf16 base and float32 LoRA factors: the branch runs in float32 on x cast up, and its
            // result, cast to bf16, is added to the bf16 base output (both casts keep autograd).
            NDArray y = LoraLinear.linear(x, weight, bias);
            var module = adapter.module(w.keys()[p.ordinal()]);
            if (module == null) {
                return y;
            }
            NDArray xf = Torch.cast(x, Torch.Dtype.F32, scope);
            NDArray branch = LoraLinear.branch(xf, module, adapter.scalingTensor(), adapter.dropout(), training);
            return y.add(Torch.cast(branch, Torch.Dtype.BF16, scope));
        }
        return LoraLinear.forward(
                x,
                weight,
                bias,
                adapter.module(w.keys()[p.ordinal()]),
                adapter.scalingTensor(),
                adapter.dropout(),
                training);
    }

    /**
     * A frozen weight in the compute dtype on this scope: float32 (F16 storage widened per use) or, in bf16
     * precision, bfloat16 (no gradient needed).
     */
    NDArray use(NDArray weight) {
        if (precision == Precision.BF16) {
            return Torch.cast(weight, Torch.Dtype.BF16, scope);
        }
        if (weight.getDataType() == DataType.FLOAT32) {
            return weight;
        }
        NDArray w = weight.toType(DataType.FLOAT32, false);
        w.attach(scope);
        return w;
    }

    /** {@code x} in the compute dtype (keeps autograd). */
    NDArray compute(NDArray x) {
        return Torch.cast(x, precision == Precision.BF16 ? Torch.Dtype.BF16 : Torch.Dtype.F32, scope);
    }
}
