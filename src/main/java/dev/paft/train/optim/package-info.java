/**
 * Optimizer pieces the training loop calls each step: {@link dev.paft.train.optim.AdamW}
 * (own implementation, checkpointable state), {@link dev.paft.train.optim.LrSchedule}
 * (Hugging Face warm-up + decay schedules) and {@link dev.paft.train.optim.GradClip}
 * (global-norm clipping, {@code torch.nn.utils.clip_grad_norm_}).
 *
 * <p>Import contract: floor 3; may import errors, config, engine.
 */
package dev.paft.train.optim;
