package dev.paft.eval;

import dev.paft.data.DatasetStats;
import dev.paft.data.SftDataset;
import dev.paft.data.SftDatasetReader;
import dev.paft.data.SftExample;
import dev.paft.data.SftOptions;
import dev.paft.data.template.ChatTemplate;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Perplexity on held-out SFT data: {@code NLL = -sum_{labelled t} log p(x_t | x_<t) / N_labelled}
 * over the whole file (token-weighted, the SFT training loss's definition), {@code ppl = exp(NLL)}.
 * Records are TRL JSONL read by {@link SftDatasetReader}, so the labelled tokens are exactly those SFT
 * trains on (completions / assistant turns, or every token of {@code text} records).
 */
public final class Perplexity {
    private Perplexity() {}

    /**
     * @param examples sequences scored
     * @param tokens labelled tokens scored
     * @param meanNll token-weighted mean negative log-likelihood (nats)
     * @param perplexity {@code exp(meanNll)}
     * @param stats what reading the file did (null for in-memory examples)
     */
    public record Result(int examples, long tokens, double meanNll, double perplexity, DatasetStats stats) {}

    /** Scores examples already encoded (e.g. the training run's held-out split). */
    public static Result evaluate(EvalModel m, List<SftExample> examples, EvalOptions opts) {
        List<TokenScorer.Row> rows = new ArrayList<>(examples.size());
        for (SftExample e : examples) {
            rows.add(new TokenScorer.Row(e.inputIds(), e.labels()));
        }
        LogLikelihood.Result r = LogLikelihood.Result.of(TokenScorer.score(
                m.model(), m.adapter(), rows, opts.batchSize(), m.tokenizer().padId()));
        return new Result(examples.size(), r.tokens(), r.meanNll(), r.perplexity(), null);
    }

    /**
     * Reads a TRL SFT JSONL file (truncated to {@code opts.maxLength()}) and scores it.
     *
     * @param template chat template for conversational records, or null
     */
    public static Result evaluate(
            EvalModel m, Path file, ChatTemplate template, boolean skipBadRecords, EvalOptions opts) {
        EvalJsonl.requireFile(file);
        SftOptions so = SftOptions.defaults(opts.maxLength()).withSkipBadRecords(skipBadRecords);
        SftDataset data = new SftDatasetReader(m.tokenizer(), template, so).read(file);
        Result r = TokenScorer.naming(file, () -> evaluate(m, data.examples(), opts));
        return new Result(r.examples(), r.tokens(), r.meanNll(), r.perplexity(), data.stats());
    }
}
