package dev.paft.config;

import java.util.List;
import java.util.Map;

/**
 * A merge, in mergekit's vocabulary: task vectors {@code model_i - base} (or an adapter's
 * {@code scaling * B @ A}) combined by {@code method} and added to the base.
 *
 * @param method a mergekit method name (dev.paft.merge.MergeMethods: linear, slerp, ties, della, ...)
 * @param base base model directory
 * @param models inputs: model directories or PEFT adapter directories, each with its parameters
 *     (weight, density, ...); a value is a scalar, a layer gradient (list) or name filters
 * @param parameters global parameters (lambda, normalize, rescale, t, seed, consensus, ...)
 * @param dtype dtype the math reads inputs as (mergekit's {@code dtype}); null = float32
 * @param outDtype output dtype (bf16, f16, f32); null = the base's
 * @param shardSize output shard size, e.g. "5GB", "500MB"
 */
public record MergeConfig(
        String method,
        String base,
        List<MergeInput> models,
        Map<String, Object> parameters,
        String dtype,
        String outDtype,
        String shardSize) {

    /** One merge input and its per-input parameters. */
    public record MergeInput(String model, Map<String, Object> parameters) {}

    void validate(Validator v) {
        // Method-specific checks live in the merge package, which knows each method's parameters.
    }
}
