package dev.paft.lora;

import ai.djl.ndarray.NDArray;

/**
 * One adapted module's factors: {@code a} [r, in] and {@code b} [out, r], keyed by the PEFT module key
 * ({@code model.layers.0.self_attn.q_proj}).
 */
public record LoraModule(String key, NDArray a, NDArray b) {}
