/**
 * Training losses as components: token log-probabilities, cross-entropy, the L1 sparsity
 * penalty on LoRA adapters, and the preference losses (DPO sigmoid, IPO, hinge, ORPO).
 *
 * <p>Which TRL each loss follows: sigmoid, hinge and IPO follow current TRL (0.29 and later; for IPO
 * that means rewards and {@code logps/*} logged summed, loss on per-token averages); sigmoid with
 * {@code label_smoothing > 0} is conservative DPO as in TRL 0.28 and earlier (current TRL ignores it
 * there); ORPO follows TRL's ORPOTrainer, unchanged across versions.
 *
 * <p>A loss takes per-sequence tensors that the model produced and never calls the model.
 * Constants under autograd are cached 0-dim tensors ({@link dev.paft.engine.Scalars}),
 * never Java numbers (docs/ENGINE-NOTES.md, trap 1). Results and intermediates attach to the manager of
 * the first operand, so callers pass per-step tensors (or a step manager where the first
 * operand is a long-lived parameter, as in {@link dev.paft.train.loss.L1Penalty}).
 *
 * <p>Import contract: floor 3; may import errors, config, engine.
 */
package dev.paft.train.loss;
