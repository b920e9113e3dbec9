/**
 * File formats: safetensors (memory-mapped, lazy, validated, sharded, atomic writes with BF16/F16
 * conversion in Java), Hugging Face {@code config.json}, PEFT LoRA adapter directories, and
 * atomic output directories. Imports only the JDK and Jackson.
 */
package dev.paft.io;
