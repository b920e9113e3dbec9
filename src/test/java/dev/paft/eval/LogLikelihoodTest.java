package dev.paft.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.data.TextTokenizer;
import dev.paft.errors.PaftException;
import dev.paft.model.LabelScorer;
import dev.paft.model.Scoring;
import dev.paft.testutil.EvalFixtures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** lm-eval loglikelihood: tokenization of pairs, exact sums, batching, aggregate NLL and perplexity. */
class LogLikelihoodTest {
    @TempDir
    static Path tmp;

    static EvalModel m;
    static EvalModel withAdapter;

    @BeforeAll
    static void load() {
        Path dir = EvalFixtures.model(tmp.resolve("model"), 7);
        m = EvalModel.open(dir, null, null, EvalFixtures.cpu(), false);
        withAdapter =
                EvalModel.open(dir, EvalFixtures.adapter(tmp.resolve("adapter"), 3), null, EvalFixtures.cpu(), false);
    }

    @AfterAll
    static void close() {
        m.close();
        withAdapter.close();
    }

    @Test
    void encodePairSplitsTheWholeEncoding() {
        TextTokenizer tok = m.tokenizer();
        LogLikelihood.Request q = LogLikelihood.encode(tok, "The capital of France is", " Paris.");
        int[] whole = tok.encodeStart("The capital of France is Paris.");
        assertArrayEquals(whole, concat(q.context(), q.continuation()));
        assertArrayEquals(tok.encodeStart("The capital of France is"), q.context());
        assertEquals(1, q.context()[0], "BOS first, as the tokenizer adds it");
        // trailing whitespace of the context moves to the continuation
        LogLikelihood.Request moved = LogLikelihood.encode(tok, "Answer: ", "four");
        assertArrayEquals(LogLikelihood.encode(tok, "Answer:", " four").continuation(), moved.continuation());
        // empty context: the row starts with BOS so the first token is scored
        LogLikelihood.Request empty = LogLikelihood.encode(tok, "", "Hello");
        TokenScorer.Row row = LogLikelihood.row(new LogLikelihood.Request(new int[0], new int[] {15043}), tok, 100);
        assertArrayEquals(new int[] {1, 15043}, row.ids());
        assertEquals(1, empty.context().length, "BOS alone");
        // a token merging across the boundary belongs to the continuation
        LogLikelihood.Request merged = LogLikelihood.encode(tok, "a", "b");
        assertArrayEquals(tok.encodeStart("ab"), concat(merged.context(), merged.continuation()));
        assertTrue(merged.continuation().length > 0);
    }

    @Test
    void sumsEqualADirectPerTokenComputation() {
        List<LogLikelihood.Request> reqs =
                LogLikelihood.read(EvalFixtures.RESOURCES.resolve("loglik.jsonl"), m.tokenizer(), EvalFixtures.VOCAB);
        assertEquals(5, reqs.size());
        for (EvalModel model : List.of(m, withAdapter)) {
            List<TokenScorer.Score> scores = LogLikelihood.score(model, reqs, new EvalOptions(3, 512));
            for (int i = 0; i < reqs.size(); i++) {
                double[] direct = direct(model, reqs.get(i));
                assertEquals(reqs.get(i).continuation().length, scores.get(i).tokens());
                assertEquals(direct[0], scores.get(i).sum(), 1e-4 * Math.abs(direct[0]), "record " + i);
                assertEquals(direct[1], scores.get(i).sum(), 1e-3, "record " + i + " vs Java log-softmax");
                assertEquals(
                        scores.get(i).sum() / scores.get(i).tokens(),
                        scores.get(i).mean(),
                        1e-12);
            }
        }
    }

    /**
     * The one row alone, unpadded: {Scoring's per-token log-probs summed over the continuation,
     * the same from a log-softmax computed in Java}.
     */
    static double[] direct(EvalModel model, LogLikelihood.Request q) {
        TokenScorer.Row row = LogLikelihood.row(q, model.tokenizer(), 512);
        int n = row.ids().length;
        try (NDManager scope = model.model().manager().newSubManager()) {
            long[] ids = Arrays.stream(row.ids()).asLongStream().toArray();
            long[] labels = Arrays.stream(row.labels()).asLongStream().toArray();
            NDArray logits =
                    model.model().forward(scope, scope.create(ids, new Shape(1, n)), null, model.adapter(), false);
            NDArray hidden = model.model()
                    .hidden(scope, scope.create(ids, new Shape(1, n)), null, null, model.adapter(), null, false);
            float[] tokens = model.model()
                    .scorer(3)
                    .score(scope, hidden, LabelScorer.align(labels, 1, n))
                    .tokens(0); // chunks of 3
            float[] lg = logits.toFloatArray();
            int v = lg.length / n;
            double viaScoring = 0;
            double viaJava = 0;
            for (int t = 1; t < n; t++) {
                if (row.labels()[t] != Scoring.IGNORE) {
                    viaScoring += tokens[t - 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < v; j++) {
                        max = Math.max(max, lg[(t - 1) * v + j]);
                    }
                    double z = 0;
                    for (int j = 0; j < v; j++) {
                        z += Math.exp(lg[(t - 1) * v + j] - max);
                    }
                    viaJava += lg[(t - 1) * v + row.ids()[t]] - max - Math.log(z);
                }
            }
            return new double[] {viaScoring, viaJava};
        }
    }

    @Test
    void batchedEqualsOneAtATime() {
        List<LogLikelihood.Request> reqs =
                LogLikelihood.read(EvalFixtures.RESOURCES.resolve("loglik.jsonl"), m.tokenizer(), EvalFixtures.VOCAB);
        List<TokenScorer.Score> one = LogLikelihood.score(withAdapter, reqs, new EvalOptions(1, 512));
        List<TokenScorer.Score> all = LogLikelihood.score(withAdapter, reqs, new EvalOptions(8, 512));
        for (int i = 0; i < reqs.size(); i++) {
            assertEquals(one.get(i).tokens(), all.get(i).tokens());
            assertEquals(
                    one.get(i).sum(),
                    all.get(i).sum(),
                    1e-4 * Math.abs(one.get(i).sum()),
                    "record " + i);
        }
    }

    @Test
    void aggregateIsTokenWeightedAndPerplexityIsExpNll() throws Exception {
        LogLikelihood.Result r =
                LogLikelihood.evaluate(m, EvalFixtures.RESOURCES.resolve("loglik.jsonl"), EvalOptions.defaults());
        double sum = 0;
        long tokens = 0;
        for (TokenScorer.Score s : r.records()) {
            sum += s.sum();
            tokens += s.tokens();
        }
        assertEquals(tokens, r.tokens());
        assertEquals(-sum / tokens, r.meanNll(), 1e-12);
        assertEquals(Math.exp(r.meanNll()), r.perplexity(), 1e-9 * r.perplexity());
        assertTrue(r.meanNll() > 0);
        // per-record JSONL
        Path out = tmp.resolve("out/scores.jsonl");
        LogLikelihood.writeJsonl(out, r);
        List<String> lines = Files.readAllLines(out);
        assertEquals(r.records().size(), lines.size());
        assertTrue(
                lines.get(0).contains("\"sum_logprob\"")
                        && lines.get(0).contains("\"mean_logprob\"")
                        && lines.get(0).contains("\"tokens\""),
                lines.get(0));
    }

    @Test
    void truncationKeepsTheEnd() {
        LogLikelihood.Request q = new LogLikelihood.Request(new int[] {1, 10, 11, 12, 13}, new int[] {20, 21, 22});
        TokenScorer.Row row = LogLikelihood.row(q, m.tokenizer(), 4);
        assertArrayEquals(new int[] {13, 20, 21, 22}, row.ids());
        List<TokenScorer.Score> s = LogLikelihood.score(m, List.of(q), new EvalOptions(1, 4));
        assertEquals(3, s.get(0).tokens());
    }

    @Test
    void malformedRecordsNameFileAndLine() {
        Path bad = EvalFixtures.RESOURCES.resolve("loglik_bad.jsonl");
        PaftException e =
                assertThrows(PaftException.class, () -> LogLikelihood.read(bad, m.tokenizer(), EvalFixtures.VOCAB));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().startsWith(bad + ":2: "), e.getMessage());
        Path ids = tmp.resolve("ids.jsonl");
        writeQuietly(ids, "{\"prompt_ids\": [1, 2], \"completion_ids\": [99999]}\n");
        e = assertThrows(PaftException.class, () -> LogLikelihood.read(ids, m.tokenizer(), EvalFixtures.VOCAB));
        assertTrue(e.getMessage().contains(":1: ") && e.getMessage().contains("99999"), e.getMessage());
        e = assertThrows(
                PaftException.class, () -> LogLikelihood.read(tmp.resolve("missing.jsonl"), m.tokenizer(), 10));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
    }

    static void writeQuietly(Path p, String s) {
        try {
            Files.writeString(p, s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
