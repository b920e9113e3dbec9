/**
 * Evaluation of a model (plus an optional unmerged LoRA adapter): lm-eval-harness style
 * log-likelihood of continuations, perplexity on held-out SFT data, preference accuracy with
 * DPO's implicit reward, multiple-choice accuracy ({@code acc}, {@code acc_norm}), and
 * generation with a KV cache (greedy or seeded temperature / top-p sampling).
 *
 * <p>Every evaluator is a small class with a static entry point returning a record; nothing here
 * records gradients, and every forward runs in its own NDManager scope. {@link dev.paft.eval.EvalSuite} is the one
 * suite both {@code paft eval} and {@code paft run} run, its settings read from the config once.
 *
 * <p>Import contract: floor 5; may import errors, io, config, engine, data, data.template, lora, model.
 */
package dev.paft.eval;
