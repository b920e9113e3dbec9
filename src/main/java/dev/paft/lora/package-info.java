/**
 * LoRA in PEFT's semantics: {@code y = W x + b + scaling * B(A(dropout(x)))}, {@code scaling = alpha / r}
 * (rsLoRA: {@code alpha / sqrt(r)}); seeded initialization (A Kaiming-uniform(a = sqrt 5), B = 0); the
 * trainable factors; PEFT adapter directories in and out. Name-agnostic: the model supplies the module
 * keys and base shapes it can adapt.
 *
 * <p>Import contract: floor 3; may import errors, io, config, engine.
 */
package dev.paft.lora;
