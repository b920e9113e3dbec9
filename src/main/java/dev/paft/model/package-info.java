/**
 * The Llama-family decoder (Llama, Mistral, Qwen2) in DJL NDArray ops: RMSNorm, rotary embeddings,
 * grouped-query attention, SwiGLU MLP, decoder layers, the whole causal LM with LoRA hooks, a KV cache
 * for generation, label log-prob scoring, and the Hugging Face weight names ({@link dev.paft.model.HfNames}).
 *
 * <p>Import contract: floor 4; may import errors, io, config, engine, lora.
 */
package dev.paft.model;
