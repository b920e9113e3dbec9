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
 * training flag, the KV cache (or null), the compute precision and cached scalar constants.
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
        Precision precision) {
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
