package dev.paft.model;

import ai.djl.Device;
import dev.paft.config.ComputePrecision;
import dev.paft.engine.TorchBootstrap;
import dev.paft.errors.PaftException;

/**
 * The compute dtype of a training forward ({@code training.precision}), independent of how the frozen weights are
 * stored ({@code model.dtype}).
 *
 * <ul>
 *   <li>{@link #FP32}: everything in float32.</li>
 *   <li>{@link #BF16}: frozen weights (cast per use from their storage) and activations in bfloat16: projections,
 *       rotary, attention (fused SDPA), the MLP and the residual stream. In float32, where transformers computes
 *       them: RMSNorm statistics (and the norm's output, cast back), the LoRA branch (master factors A and B, and
 *       so their gradients and the optimizer state, stay float32), the final norm, the LM head, log-softmax,
 *       log-probabilities and losses. Casts keep autograd ({@code engine/Torch.cast}).</li>
 * </ul>
 * {@code auto} (the default) is FP32 on the CPU and BF16 on CUDA (FP32 when the libtorch is an external one, where
 * bf16 is unavailable; asking for bf16 there is a usage error naming what to install).
 */
public enum Precision {
    FP32,
    BF16;

    /** The config spelling. */
    public String configName() {
        return name().toLowerCase();
    }

    /** Resolves {@code training.precision} (null = auto) for {@code device} (null = CPU). */
    public static Precision resolve(ComputePrecision setting, Device device) {
        ComputePrecision s = setting == null ? ComputePrecision.AUTO : setting;
        return switch (s) {
            case AUTO -> device != null && device.isGpu() && TorchBootstrap.bridgeMissing() == null ? BF16 : FP32;
            case BF16 -> {
                String missing = TorchBootstrap.bridgeMissing();
                if (missing != null) {
                    throw PaftException.usage("training.precision: bf16 is unavailable: " + missing);
                }
                yield BF16;
            }
            case FP32 -> FP32;
        };
    }

    /**
     * The precision {@code setting} asks for on a GPU or a CPU, before any engine is loaded (the {@code --dry-run}
     * memory estimate): {@code auto} is BF16 on a GPU; whether the bf16 path is installed is checked by
     * {@link #resolve} when the run starts.
     */
    public static boolean requestsBf16(ComputePrecision setting, boolean gpu) {
        return setting == ComputePrecision.BF16 || ((setting == null || setting == ComputePrecision.AUTO) && gpu);
    }
}
