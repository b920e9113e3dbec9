/**
 * {@code paft run} and {@code paft demo}: SFT and preference training from the same base, merges
 * of their deltas, the sparsity report and evaluations, each stage skipped when complete and
 * resumed from its checkpoint otherwise. Combines train, merge, report and eval.
 */
package dev.paft.pipeline;
