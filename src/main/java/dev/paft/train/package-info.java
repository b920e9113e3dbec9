/**
 * The two training recipes (SFT with PAFT's L1 penalty, preference training) and what they share: the training
 * loop, its objectives and policy, checkpoints, run directories, metrics, and the dry run's plan and memory estimate.
 *
 * <p>Import contract: floor 5; may import errors, io, config, engine, data, data.source, data.template, lora, model, train.loss, train.optim.
 */
package dev.paft.train;
