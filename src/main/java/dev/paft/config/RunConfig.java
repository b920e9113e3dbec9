package dev.paft.config;

import java.util.List;
import java.util.Map;

/**
 * {@code paft run}: the PAFT paradigm from one config. The SFT and preference stages each take
 * the top-level sections (model, lora, data, training, sft, preference) with their overlay on top;
 * both start from the same base; their deltas are then merged, reported and evaluated.
 *
 * @param outputDir where every stage writes (sft/, preference/, merged/NAME/, eval/, report files)
 * @param sft overlay for the SFT stage, e.g. {@code {data: {train: ...}, sft: {l1_lambda: 1e-3}}}
 * @param sftVariants several SFT stages instead of one, by name, each overlaid on {@code sft}
 *     (e.g. {@code {SFT: {sft: {l1_lambda: 0}}, SFT_sparse: {sft: {l1_lambda: 1e-2}}}})
 * @param preference overlay for the preference stage
 * @param sequential also run the usual baseline: SFT, merge into the base, preference training on
 *     that model, merge
 * @param merges parallel merges of the SFT and preference deltas
 * @param eval what to measure on every resulting model
 */
public record RunConfig(
        String outputDir,
        Map<String, Object> sft,
        Map<String, Map<String, Object>> sftVariants,
        Map<String, Object> preference,
        boolean sequential,
        List<RunMerge> merges,
        RunEval eval) {

    /**
     * One parallel merge: base + SFT delta + preference delta.
     *
     * @param sft per-input parameters of the SFT delta (weight, density, ...)
     * @param parameters global parameters (lambda, normalize, t for slerp, ...)
     */
    public record RunMerge(
            String name,
            String method,
            Map<String, Object> sft,
            Map<String, Object> preference,
            Map<String, Object> parameters) {}

    /**
     * Measurements on each model.
     *
     * @param perplexity held-out SFT JSONL (TRL formats)
     * @param preferences held-out preference JSONL: implicit-reward accuracy against the base
     * @param multipleChoice lm-eval style JSONL tasks ({@code context, choices, gold})
     * @param beta beta of the implicit reward {@code beta * log(pi / pi_ref)}
     * @param batchSize sequences per forward pass ({@code paft eval --batch-size})
     */
    public record RunEval(
            String perplexity, String preferences, List<String> multipleChoice, double beta, int batchSize) {}

    void validate(Validator v) {
        if (merges != null) {
            for (RunMerge m : merges) {
                v.check(
                        "run.merges",
                        m.method() != null && m.name() != null && m.name().matches("[A-Za-z0-9_.+-]+"),
                        "entries need a method and a name of letters, digits, _ . + -",
                        m);
            }
        }
        v.check("run.eval.beta", eval == null || eval.beta() > 0, "must be > 0", eval == null ? null : eval.beta());
        v.check(
                "run.eval.batch_size",
                eval == null || eval.batchSize() >= 1,
                "must be >= 1",
                eval == null ? null : eval.batchSize());
    }
}
