package dev.paft.eval;

import ai.djl.Device;
import dev.paft.config.PaftConfig;
import dev.paft.data.PreferenceOptions;
import dev.paft.data.template.ChatTemplate;
import dev.paft.io.WeightStorage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The one evaluation suite: what {@code paft eval} runs on its model and what {@code paft run} measures
 * on every candidate of its comparison. Both build it from the resolved config with {@link Settings#of},
 * load models with {@link #open} and evaluate with {@link #run}, so the same model and config give the
 * same numbers through either command.
 *
 * @param loglik continuation log-likelihood JSONL, or null
 * @param perplexity held-out SFT JSONL, or null
 * @param preferences held-out preference JSONL, or null
 * @param multipleChoice lm-eval style task files (none: empty)
 * @param mcDelimiter between a multiple-choice context and each choice ({@link MultipleChoice#DEFAULT_DELIMITER})
 */
public record EvalSuite(
        Path loglik,
        Path perplexity,
        Path preferences,
        List<Path> multipleChoice,
        String mcDelimiter,
        Settings settings) {
    public EvalSuite {
        multipleChoice = multipleChoice == null ? List.of() : List.copyOf(multipleChoice);
        mcDelimiter = mcDelimiter == null ? MultipleChoice.DEFAULT_DELIMITER : mcDelimiter;
    }

    /**
     * How the suite loads, tokenizes, truncates and batches; everything but the batch size comes from the config.
     *
     * @param options batch size (sequences per forward pass) and {@code data.max_length}
     * @param preference {@code data.max_length}, {@code data.max_prompt_length} (at most max_length - 1, so a
     *     pair keeps a completion token) and {@code data.skip_bad_records}
     * @param beta {@code preference.beta} of the implicit reward
     * @param chatTemplate {@code data.chat_template} (null: the tokenizer's)
     * @param skipBadRecords {@code data.skip_bad_records}
     * @param storage {@code model.dtype}: how the frozen weights are held
     * @param tokenizerDir {@code model.tokenizer} (null: the model's, else the adapter's)
     */
    public record Settings(
            EvalOptions options,
            PreferenceOptions preference,
            double beta,
            String chatTemplate,
            boolean skipBadRecords,
            WeightStorage storage,
            Path tokenizerDir) {
        /** The settings of {@code cfg} with {@code batchSize} sequences per forward pass. */
        public static Settings of(PaftConfig cfg, int batchSize) {
            int maxLength = cfg.data().maxLength();
            int maxPrompt = Math.max(1, Math.min(cfg.data().maxPromptLength(), maxLength - 1));
            return new Settings(
                    new EvalOptions(batchSize, maxLength),
                    new PreferenceOptions(maxLength, maxPrompt, cfg.data().skipBadRecords()),
                    cfg.preference().beta(),
                    cfg.data().chatTemplate(),
                    cfg.data().skipBadRecords(),
                    cfg.model().dtype(),
                    cfg.model().tokenizer() == null ? null : Path.of(cfg.model().tokenizer()));
        }
    }

    /** Every input file of the suite. */
    public List<Path> inputs() {
        List<Path> in = new ArrayList<>();
        for (Path p : new Path[] {loglik, perplexity, preferences}) {
            if (p != null) {
                in.add(p);
            }
        }
        in.addAll(multipleChoice);
        return in;
    }

    /** Loads a model directory (plus an unmerged adapter, or null) as the settings say. */
    public EvalModel open(Path model, Path adapter, Device device) {
        return EvalModel.open(model, adapter, settings.tokenizerDir(), device, settings.storage());
    }

    /**
     * Runs every evaluation of the suite on {@code m}. The preference reference is {@code reference}, or
     * {@code m} with its adapter disabled when null. Multiple-choice tasks named alike get -2, -3, ...
     */
    public EvalReport run(EvalModel m, EvalModel reference) {
        ChatTemplate template = m.chatTemplate(settings.chatTemplate());
        EvalOptions opts = settings.options();
        LogLikelihood.Result ll = loglik == null ? null : LogLikelihood.evaluate(m, loglik, opts);
        Perplexity.Result pp = perplexity == null
                ? null
                : Perplexity.evaluate(m, perplexity, template, settings.skipBadRecords(), opts);
        PreferenceAccuracy.Result pa = preferences == null
                ? null
                : PreferenceAccuracy.evaluate(
                        m, reference, preferences, template, settings.preference(), settings.beta(), opts);
        List<MultipleChoice.Result> mcs = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (Path f : multipleChoice) {
            MultipleChoice.Result r = MultipleChoice.evaluate(m, f, mcDelimiter, opts);
            String name = r.task();
            for (int i = 2; !names.add(name); i++) {
                name = r.task() + "-" + i;
            }
            mcs.add(new MultipleChoice.Result(
                    name, r.questions(), r.acc(), r.accStderr(), r.accNorm(), r.accNormStderr(), r.perQuestion()));
        }
        return new EvalReport(null, null, ll, pp, pa, mcs);
    }

    /**
     * A report's headline numbers under the comparison's keys ({@code paft run}'s comparison.csv/.json):
     * {@code TASK/acc}, {@code TASK/acc_norm}, {@code pref/reward_acc}, {@code pref/margin},
     * {@code pref/logp_acc}, {@code sft/ppl}, {@code loglik/mean_nll}; in that order, only what was measured.
     */
    public static Map<String, Double> metrics(EvalReport r) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (MultipleChoice.Result t : r.multipleChoice()) {
            m.put(t.task() + "/acc", t.acc());
            m.put(t.task() + "/acc_norm", t.accNorm());
        }
        if (r.preference() != null) {
            m.put("pref/reward_acc", r.preference().accuracy());
            m.put("pref/margin", r.preference().meanMargin());
            m.put("pref/logp_acc", r.preference().refFreeAccuracy());
        }
        if (r.perplexity() != null) {
            m.put("sft/ppl", r.perplexity().perplexity());
        }
        if (r.loglik() != null) {
            m.put("loglik/mean_nll", r.loglik().meanNll());
        }
        return m;
    }
}
