package dev.paft.config;

/**
 * The optimization loop shared by train-sft and train-dpo.
 *
 * @param scheduler cosine, linear or constant, after a linear warm-up
 * @param warmupSteps warm-up length in steps; when 0, {@code ceil(warmup_ratio * total_steps)}
 * @param maxSteps optimizer steps to run; -1 = derive from {@code epochs}
 * @param batchSize sequences (or preference pairs) per micro-batch
 * @param gradAccum micro-batches per optimizer step
 * @param maxGradNorm global-norm clipping threshold; 0 disables clipping
 * @param saveTotalLimit checkpoints kept (older ones deleted)
 * @param gradientCheckpointing keep only each decoder layer's input during the forward pass and recompute
 *     the layer during backward (activation checkpointing): memory O(layers x tokens x hidden) instead of
 *     every layer's activations, for about one extra forward pass of compute
 * @param lossChunkSize tokens per chunk of the LM head, log-softmax and label gather: the full
 *     [batch, seq, vocab] logits are never held at once
 * @param precision compute dtype of the decoder: auto (bf16 on CUDA, fp32 on CPU), bf16 or fp32
 *     ({@code model/Precision}); independent of {@code model.dtype}, the storage of the frozen weights
 * @param tf32 float32 matmuls and cuDNN on CUDA may use TF32 tensor cores (true), must not (false), or as libtorch
 *     starts (null: exact unless TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1, which scripts/paft exports); {@code engine/Tf32}
 */
public record TrainingConfig(
        double learningRate,
        Scheduler scheduler,
        double warmupRatio,
        int warmupSteps,
        double epochs,
        int maxSteps,
        int batchSize,
        int gradAccum,
        double maxGradNorm,
        double weightDecay,
        double adamBeta1,
        double adamBeta2,
        double adamEpsilon,
        long seed,
        int saveSteps,
        int evalSteps,
        int logSteps,
        int saveTotalLimit,
        String outputDir,
        boolean gradientCheckpointing,
        int lossChunkSize,
        ComputePrecision precision,
        Boolean tf32) {
    void validate(Validator v) {
        v.check(
                "training.learning_rate",
                learningRate > 0 && Double.isFinite(learningRate),
                "must be > 0",
                learningRate);
        v.required("training.scheduler", scheduler, Scheduler.class);
        v.check("training.warmup_ratio", warmupRatio >= 0 && warmupRatio <= 1, "must be in [0, 1]", warmupRatio);
        v.check("training.warmup_steps", warmupSteps >= 0, "must be >= 0", warmupSteps);
        v.check("training.epochs", epochs > 0 && Double.isFinite(epochs), "must be > 0", epochs);
        v.check("training.max_steps", maxSteps == -1 || maxSteps >= 1, "must be -1 (use epochs) or >= 1", maxSteps);
        v.check("training.batch_size", batchSize >= 1, "must be >= 1", batchSize);
        v.check("training.grad_accum", gradAccum >= 1, "must be >= 1", gradAccum);
        v.check(
                "training.max_grad_norm",
                maxGradNorm >= 0 && Double.isFinite(maxGradNorm),
                "must be >= 0",
                maxGradNorm);
        v.check("training.weight_decay", weightDecay >= 0 && Double.isFinite(weightDecay), "must be >= 0", weightDecay);
        v.check("training.adam_beta1", adamBeta1 >= 0 && adamBeta1 < 1, "must be in [0, 1)", adamBeta1);
        v.check("training.adam_beta2", adamBeta2 >= 0 && adamBeta2 < 1, "must be in [0, 1)", adamBeta2);
        v.check("training.adam_epsilon", adamEpsilon > 0 && Double.isFinite(adamEpsilon), "must be > 0", adamEpsilon);
        v.check("training.save_steps", saveSteps >= 0, "must be >= 0 (0 = only at the end)", saveSteps);
        v.check("training.eval_steps", evalSteps >= 0, "must be >= 0 (0 = only at the end)", evalSteps);
        v.check("training.log_steps", logSteps >= 1, "must be >= 1", logSteps);
        v.check("training.save_total_limit", saveTotalLimit >= 1, "must be >= 1", saveTotalLimit);
        v.check("training.loss_chunk_size", lossChunkSize >= 1, "must be >= 1", lossChunkSize);
        v.required("training.precision", precision, ComputePrecision.class);
    }
}
