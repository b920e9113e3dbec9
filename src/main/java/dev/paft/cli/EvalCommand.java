package dev.paft.cli;

import ai.djl.Device;
import dev.paft.config.PaftConfig;
import dev.paft.engine.Engines;
import dev.paft.errors.PaftException;
import dev.paft.eval.EvalModel;
import dev.paft.eval.EvalReport;
import dev.paft.eval.EvalSuite;
import dev.paft.eval.LogLikelihood;
import dev.paft.io.AtomicFiles;
import dev.paft.io.Json;
import dev.paft.io.OutputLocks;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code paft eval}: scores a model (plus an optional unmerged adapter) on any of: continuation
 * log-likelihood (lm-eval {@code loglikelihood}), perplexity on SFT data, preference accuracy
 * with DPO's implicit reward, and lm-eval-style multiple-choice tasks; prints a table or JSON.
 */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Evaluate a model: log-likelihood, perplexity, preference accuracy, multiple choice.",
            "",
            "Examples:",
            "  paft eval --model runs/merged --ppl data/sft_test.jsonl --prefs data/pref_test.jsonl --ref-model base",
            "  paft eval --model base --adapter runs/dpo --prefs data/pref_test.jsonl --beta 0.1",
            "  paft eval --model base --loglik pairs.jsonl --output scores.jsonl",
            "  paft eval --model base --mc arc_easy.jsonl --mc hellaswag.jsonl --format json"
        })
public final class EvalCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(
            names = "--loglik",
            paramLabel = "FILE",
            description = "JSONL of {prompt, completion} or {prompt_ids, completion_ids}: log p(completion | prompt).")
    Path loglik;

    @Option(
            names = "--output",
            paramLabel = "FILE",
            description = "With --loglik: per-record {sum_logprob, mean_logprob, tokens} JSONL.")
    Path output;

    @Option(
            names = "--ppl",
            paramLabel = "FILE",
            description = "Held-out SFT JSONL (TRL formats): token-weighted NLL and perplexity.")
    Path ppl;

    @Option(
            names = "--prefs",
            paramLabel = "FILE",
            description = "Held-out preference JSONL (TRL formats): implicit-reward accuracy and margin.")
    Path prefs;

    @Option(names = "--beta", paramLabel = "B", description = "Implicit reward beta * log(pi / pi_ref).")
    @ConfigKey("preference.beta")
    Double beta;

    @Option(
            names = "--ref-model",
            paramLabel = "DIR",
            description =
                    "Reference model for --prefs (default: the base, i.e. the adapter disabled; needed for merged models).")
    Path refModel;

    @Option(
            names = "--mc",
            paramLabel = "FILE",
            description = "Multiple-choice JSONL {context, choices, gold|label}: acc and acc_norm (repeatable).")
    List<Path> mc = new ArrayList<>();

    @Option(
            names = "--mc-delimiter",
            paramLabel = "S",
            defaultValue = " ",
            description =
                    "Put between context and choice unless whitespace is already there (lm-eval target_delimiter; default: one space).")
    String mcDelimiter;

    @Option(
            names = "--batch-size",
            paramLabel = "N",
            defaultValue = "32",
            description =
                    "Most sequences per forward pass; fewer when their logits would pass 1 GiB (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--max-length", paramLabel = "N", description = "Tokens per scored sequence.")
    @ConfigKey("data.max_length")
    Integer maxLength;

    @Option(names = "--max-prompt-length", paramLabel = "N", description = "Preference prompts: tokens kept.")
    @ConfigKey("data.max_prompt_length")
    Integer maxPromptLength;

    @Option(
            names = "--chat-template",
            paramLabel = "T",
            description = "Chat template file or Jinja text for conversational data; default: the tokenizer's.")
    @ConfigKey("data.chat_template")
    String chatTemplate;

    @Option(
            names = "--format",
            paramLabel = "FMT",
            defaultValue = "table",
            description = "table or json (default: ${DEFAULT-VALUE}).")
    OutputFormat format;

    @Option(names = "--output-json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
    Path outputJson;

    @Override
    public Integer call() throws IOException {
        try (OutputLocks held = new OutputLocks()) {
            locks = held;
            return run();
        }
    }

    /** Output files checked and locked by {@link #run}, released when {@link #call} returns. */
    private OutputLocks locks;

    private Integer run() throws IOException {
        // 1. flags and config, then every input file, before the (slow) model load
        if (format == OutputFormat.CSV) {
            throw PaftException.usage("--format csv is not supported by eval; use table or json");
        }
        if (loglik == null && ppl == null && prefs == null && mc.isEmpty()) {
            throw PaftException.usage("nothing to evaluate: give --loglik, --ppl, --prefs or --mc");
        }
        if (output != null && loglik == null) {
            throw PaftException.usage("--output writes per-record log-likelihoods and needs --loglik");
        }
        if (refModel != null && prefs == null) {
            throw PaftException.usage("--ref-model is the reference of --prefs, which is not given");
        }
        if (maxPromptLength == null && maxLength != null && maxLength <= 512) {
            maxPromptLength = Math.max(1, maxLength / 2); // keep the default below a small --max-length
        }
        PaftConfig cfg = common.load(ConfigFlags.values(modelOptions, this));
        Path modelDir = ModelOptions.modelDir(cfg);
        EvalSuite suite = new EvalSuite(loglik, ppl, prefs, mc, mcDelimiter, EvalSuite.Settings.of(cfg, batchSize));
        for (Path f : suite.inputs()) {
            if (!Files.isRegularFile(f)) {
                throw PaftException.badInput(f + ": no such file");
            }
        }
        locks.file(outputJson, "--output-json"); // writable and ours before the (slow) evaluation
        locks.file(output, "--output");

        // 2. load and evaluate (the suite paft run's comparison uses too)
        Device device = Engines.start(common.device, common.threads);
        EvalReport report;
        try (EvalModel m = suite.open(modelDir, modelOptions.adapter, device);
                EvalModel ref = refModel == null
                        ? null
                        : EvalModel.open(
                                refModel,
                                null,
                                m.tokenizerDir(),
                                device,
                                suite.settings().storage())) {
            report = suite.run(m, ref)
                    .withNames(
                            modelDir.toString(), modelOptions.adapter == null ? null : modelOptions.adapter.toString());
        }
        if (output != null) {
            LogLikelihood.writeJsonl(output, report.loglik());
        }

        // 3. print
        String json = Json.MAPPER.writeValueAsString(report.toJson()) + "\n";
        if (outputJson != null) {
            AtomicFiles.writeString(outputJson, json);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(format == OutputFormat.JSON ? json : report.table());
        out.flush();
        return 0;
    }
}
