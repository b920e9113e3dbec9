/**
 * {@code paft run} and {@code paft demo}: SFT and preference training from the same base, merges
 * of their deltas, the sparsity report and evaluations, each stage skipped when complete and
 * resumed from its checkpoint otherwise. Combines train, merge, report and eval.
 *
 * <p>Import contract: floor 6; may import errors, io, config, data, eval, merge, model, report, train.
 */
package dev.paft.pipeline;
