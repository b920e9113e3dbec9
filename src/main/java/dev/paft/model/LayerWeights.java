package dev.paft.model;

import ai.djl.ndarray.NDArray;

/**
 * The frozen weights of one decoder layer: norms (float32), the seven projections [out, in] indexed by
 * {@link Proj#ordinal()} (float32, or float16 when storage is halved), q/k/v biases (Qwen2; else null),
 * and the PEFT module keys of the projections.
 */
record LayerWeights(int index, NDArray inputNorm, NDArray postNorm, NDArray[] proj, NDArray[] bias, String[] keys) {}
