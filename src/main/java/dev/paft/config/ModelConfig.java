package dev.paft.config;

import dev.paft.io.WeightStorage;

/**
 * The base model.
 *
 * @param path Hugging Face model directory (config.json, safetensors, tokenizer files)
 * @param dtype storage of the frozen base weights in memory: f32 (fastest on CPU), bf16 (the weights
 *     rounded to bfloat16, 2 bytes) or f16 (IEEE half, 2 bytes); widened per use, compute is always float32
 * @param tokenizer directory holding tokenizer.json / tokenizer_config.json; null = the model directory
 */
public record ModelConfig(String path, WeightStorage dtype, String tokenizer) {
    void validate(Validator v) {
        v.required("model.dtype", dtype, WeightStorage.class);
    }
}
