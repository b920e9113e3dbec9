package dev.paft.model;

import dev.paft.engine.Scalars;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.paft.io.HfModelConfig;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraLinear;

/**
 * What one forward pass shares across layers: the step scope every result lands on, rotary tables,
 * the additive attention mask, the adapter (or null), the training flag, the KV cache (or null) and
 * cached scalar constants.
 */
record Pass(NDManager scope, HfModelConfig config, NDArray cos, NDArray sin, NDArray mask,
            LoraAdapter adapter, boolean training, KvCache cache) {
    /** A float32 scalar constant on this pass's device (cached; see {@link Scalars}). */
    NDArray scalar(double v) {
        return Scalars.of(v, scope.getDevice());
    }


    /** Projection {@code p} of layer {@code w} applied to x, with its LoRA branch when adapted: [..., out]. */
    NDArray project(LayerWeights w, Proj p, NDArray x) {
        NDArray weight = use(w.proj()[p.ordinal()]);
        NDArray bias = w.bias() == null ? null : w.bias()[p.ordinal()];
        if (adapter == null) {
            return LoraLinear.linear(x, weight, bias);
        }
        return LoraLinear.forward(x, weight, bias, adapter.module(w.keys()[p.ordinal()]), adapter.scalingTensor(),
                adapter.dropout(), training);
    }

    /** A frozen weight as float32 on this scope: F16 storage is widened per use (no gradient needed). */
    NDArray use(NDArray weight) {
        if (weight.getDataType() == DataType.FLOAT32) {
            return weight;
        }
        NDArray w = weight.toType(DataType.FLOAT32, false);
        w.attach(scope);
        return w;
    }
}
