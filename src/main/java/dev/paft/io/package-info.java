/**
 * File formats: safetensors (memory-mapped, lazy, validated, sharded, atomic writes with BF16/F16
 * conversion in Java), Hugging Face {@code config.json}, PEFT LoRA adapter directories, and
 * atomic output directories, and the shared Jackson configurations ({@link dev.paft.io.Mappers}).
 *
 * <p>Import contract: floor 1; may import errors.
 */
package dev.paft.io;
