package dev.paft.config;

/**
 * {@code training.precision}: the dtype the decoder computes in while training ({@code model/Precision} resolves it
 * for the device). {@link #AUTO} is bf16 on CUDA and fp32 on the CPU (fp32 where bf16 is unavailable: an external
 * libtorch).
 */
public enum ComputePrecision {
    AUTO,
    BF16,
    FP32
}
