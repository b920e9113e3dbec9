/**
 * Sparsity of adapter and model deltas, the PAFT paper's Figure 2: per-module, per-layer and
 * per-module-type statistics of {@code delta = B @ A} (PEFT adapters, unscaled as in the paper and
 * scaled by {@code alpha / r}) or {@code delta = model - base}, streamed one module at a time; the
 * terminal table, JSON and CSV renderings, and the charts. Entry point:
 * {@link dev.paft.report.SparsityReport#compute}.
 *
 * <p>Import contract: floor 2; may import errors, io.
 */
package dev.paft.report;
