package dev.paft.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.Shape;
import dev.paft.data.PreferenceExample;
import dev.paft.data.PreferenceOptions;
import dev.paft.data.SftDatasetReader;
import dev.paft.data.SftExample;
import dev.paft.data.SftOptions;
import dev.paft.data.TextTokenizer;
import dev.paft.errors.PaftException;
import dev.paft.testutil.EvalFixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Perplexity, preference accuracy and multiple choice on the tiny model. */
class ScoringEvalsTest {
    static final EvalOptions OPTS = new EvalOptions(4, 256);

    @TempDir
    static Path tmp;

    static EvalModel base;
    static EvalModel policy;

    @BeforeAll
    static void load() {
        Path dir = EvalFixtures.model(tmp.resolve("model"), 11);
        base = EvalModel.open(dir, null, null, EvalFixtures.cpu(), false);
        policy = EvalModel.open(dir, EvalFixtures.adapter(tmp.resolve("adapter"), 5), null, EvalFixtures.cpu(), false);
    }

    @AfterAll
    static void close() {
        base.close();
        policy.close();
    }

    // ---- perplexity

    @Test
    void perplexityIsExpOfTokenWeightedNll() {
        Path file = EvalFixtures.RESOURCES.resolve("sft.jsonl");
        Perplexity.Result r = Perplexity.evaluate(policy, file, policy.chatTemplate(null), false, OPTS);
        assertEquals(3, r.examples());
        assertEquals(Math.exp(r.meanNll()), r.perplexity(), 1e-9 * r.perplexity());
        assertEquals(3, r.stats().examples());
        // the same examples through the loglikelihood path: labelled tokens after position 0
        var reader = new SftDatasetReader(policy.tokenizer(), policy.chatTemplate(null), SftOptions.defaults(256));
        List<SftExample> ex = reader.read(file).examples();
        double sum = 0;
        long tokens = 0;
        for (SftExample e : ex) {
            for (int t = 1; t < e.length(); t++) {
                tokens += e.labels()[t] != SftExample.IGNORE ? 1 : 0;
            }
            TokenScorer.Score s = TokenScorer.score(
                            policy.model(),
                            policy.adapter(),
                            List.of(new TokenScorer.Row(e.inputIds(), e.labels())),
                            1,
                            0)
                    .get(0);
            sum += s.sum();
        }
        assertEquals(tokens, r.tokens());
        assertEquals(-sum / tokens, r.meanNll(), 1e-5);
        Perplexity.Result bare = Perplexity.evaluate(base, file, base.chatTemplate(null), false, OPTS);
        assertTrue(Math.abs(bare.meanNll() - r.meanNll()) > 1e-4, "the adapter changes the model");
    }

    // ---- preference accuracy

    @Test
    void disabledAdapterEqualsItsReference() {
        List<PreferenceExample> pairs = pairs();
        policy.adapter().setEnabled(false);
        try {
            PreferenceAccuracy.Result r = PreferenceAccuracy.evaluate(policy, null, pairs, 0.1, OPTS);
            assertEquals(PreferenceAccuracy.Reference.ADAPTER_DISABLED, r.reference());
            assertEquals(0, r.meanMargin(), 0);
            assertEquals(0, r.meanChosenReward(), 0);
            assertEquals(0, r.meanRejectedReward(), 0);
            assertEquals(0, r.accuracy(), 0, "ties are not wins");
            for (var s : r.perPair()) {
                assertEquals(0, s.chosenReward(0.1), 0);
                assertEquals(0, s.rejectedReward(0.1), 0);
            }
            assertTrue(!policy.adapter().isEnabled(), "state restored");
        } finally {
            policy.adapter().setEnabled(true);
        }
    }

    @Test
    void rewardsAgainstTheBaseWhetherDisabledAdapterOrSeparateModel() {
        List<PreferenceExample> pairs = pairs();
        double beta = 0.5;
        PreferenceAccuracy.Result viaDisable = PreferenceAccuracy.evaluate(policy, null, pairs, beta, OPTS);
        PreferenceAccuracy.Result viaModel = PreferenceAccuracy.evaluate(policy, base, pairs, beta, OPTS);
        assertTrue(policy.adapter().isEnabled());
        assertEquals(PreferenceAccuracy.Reference.MODEL, viaModel.reference());
        assertEquals(viaDisable.meanMargin(), viaModel.meanMargin(), 1e-4);
        assertEquals(viaDisable.accuracy(), viaModel.accuracy(), 0);
        // by hand from loglikelihoods of the completions
        int wins = 0;
        int freeWins = 0;
        double margin = 0;
        for (int i = 0; i < pairs.size(); i++) {
            PreferenceExample p = pairs.get(i);
            var reqs = List.of(
                    new LogLikelihood.Request(p.promptIds(), p.chosenIds()),
                    new LogLikelihood.Request(p.promptIds(), p.rejectedIds()));
            var pi = LogLikelihood.score(policy, reqs, OPTS);
            var ref = LogLikelihood.score(base, reqs, OPTS);
            double rc = beta * (pi.get(0).sum() - ref.get(0).sum());
            double rr = beta * (pi.get(1).sum() - ref.get(1).sum());
            assertEquals(rc, viaDisable.perPair().get(i).chosenReward(beta), 1e-4);
            assertEquals(rr, viaDisable.perPair().get(i).rejectedReward(beta), 1e-4);
            wins += rc > rr ? 1 : 0;
            freeWins += pi.get(0).sum() > pi.get(1).sum() ? 1 : 0;
            margin += rc - rr;
        }
        assertEquals((double) wins / pairs.size(), viaDisable.accuracy(), 1e-12);
        assertEquals((double) freeWins / pairs.size(), viaDisable.refFreeAccuracy(), 1e-12);
        assertEquals(margin / pairs.size(), viaDisable.meanMargin(), 1e-4);
        // no reference at all: reward metrics undefined, reference-free ones still there
        PreferenceAccuracy.Result none = PreferenceAccuracy.evaluate(base, null, pairs, beta, OPTS);
        assertEquals(PreferenceAccuracy.Reference.NONE, none.reference());
        assertTrue(Double.isNaN(none.accuracy()) && Double.isNaN(none.meanMargin()));
        assertTrue(none.refFreeAccuracy() >= 0 && none.refFreeAccuracy() <= 1);
        assertThrows(PaftException.class, () -> PreferenceAccuracy.evaluate(policy, null, pairs, 0, OPTS));
    }

    static List<PreferenceExample> pairs() {
        return PreferenceAccuracy.read(
                        policy,
                        EvalFixtures.RESOURCES.resolve("prefs.jsonl"),
                        policy.chatTemplate(null),
                        PreferenceOptions.of(256, 128))
                .examples();
    }

    // ---- multiple choice

    @Test
    void accNormArithmeticOnHandValues() {
        double[] ll = {-10, -12, -30};
        double[] len = {5, 8, 10};
        assertEquals(0, MultipleChoice.argmax(ll));
        assertEquals(1, MultipleChoice.argmaxNormalized(ll, len), "-2, -1.5, -3");
        assertEquals(0, MultipleChoice.argmax(new double[] {-1, -1}), "first on ties");
        assertEquals(0.25, MultipleChoice.meanStderr(new double[] {1, 0, 1, 1}), 1e-12);
        assertTrue(Double.isNaN(MultipleChoice.meanStderr(new double[] {1})));
        assertEquals(3, MultipleChoice.charLength("a\uD83D\uDE00b"), "code points, as Python's len");
        assertEquals(" b", MultipleChoice.join("a", "b", " "));
        assertEquals("b", MultipleChoice.join("a ", "b", " "));
        assertEquals(" b", MultipleChoice.join("a", " b", " "));
    }

    @Test
    void pickingTheModelsMostLikelyNextWordScoresFullAccuracy() {
        TextTokenizer tok = base.tokenizer();
        String[] words = {"dog", "mat", "house", "car", "tree", "river", "book", "apple"};
        String[] contexts = {"The cat sat on the", "I went to the", "She read a", "Look at that"};
        List<MultipleChoice.Question> qs = new ArrayList<>();
        for (String ctx : contexts) {
            // single-token choices: their loglikelihood is the next-token log-prob, so the argmax is known
            int[] c = tok.encodeStart(ctx);
            float[] next = lastLogits(base, c);
            List<String> choices = new ArrayList<>();
            int gold = -1;
            float best = Float.NEGATIVE_INFINITY;
            for (String w : words) {
                LogLikelihood.Request q = LogLikelihood.encode(tok, ctx, " " + w);
                if (q.continuation().length == 1 && q.context().length == c.length) {
                    if (next[q.continuation()[0]] > best) {
                        best = next[q.continuation()[0]];
                        gold = choices.size();
                    }
                    choices.add(w);
                }
            }
            assertTrue(choices.size() >= 4, choices.toString());
            qs.add(new MultipleChoice.Question(ctx, choices, gold));
        }
        MultipleChoice.Result r =
                MultipleChoice.evaluate(base, "next-word", qs, MultipleChoice.DEFAULT_DELIMITER, OPTS);
        assertEquals(1.0, r.acc(), 0);
        assertEquals(0.0, r.accStderr(), 0);
        assertEquals(contexts.length, r.questions());
        // a wrong gold everywhere: accuracy 0
        List<MultipleChoice.Question> wrong = new ArrayList<>();
        for (MultipleChoice.Question q : qs) {
            wrong.add(new MultipleChoice.Question(
                    q.context(), q.choices(), (q.gold() + 1) % q.choices().size()));
        }
        assertEquals(
                0.0, MultipleChoice.evaluate(base, "wrong", wrong, " ", OPTS).acc(), 0);
    }

    @Test
    void multipleChoiceFileMatchesLoglikelihoodPerChoice() {
        Path file = EvalFixtures.RESOURCES.resolve("mc.jsonl");
        List<MultipleChoice.Question> qs = MultipleChoice.read(file);
        assertEquals(
                List.of(0, 0, 0), qs.stream().map(MultipleChoice.Question::gold).toList());
        MultipleChoice.Result r = MultipleChoice.evaluate(policy, file, " ", OPTS);
        assertEquals("mc", r.task());
        double acc = 0;
        double accNorm = 0;
        for (int i = 0; i < qs.size(); i++) {
            MultipleChoice.Question q = qs.get(i);
            double[] ll = new double[q.choices().size()];
            double[] len = new double[ll.length];
            for (int j = 0; j < ll.length; j++) {
                String cont = MultipleChoice.join(q.context(), q.choices().get(j), " ");
                ll[j] = LogLikelihood.score(
                                policy, List.of(LogLikelihood.encode(policy.tokenizer(), q.context(), cont)), OPTS)
                        .get(0)
                        .sum();
                len[j] = q.choices().get(j).length();
                assertEquals(ll[j], r.perQuestion().get(i).logLikelihoods()[j], 1e-4);
            }
            acc += MultipleChoice.argmax(ll) == q.gold() ? 1 : 0;
            accNorm += MultipleChoice.argmaxNormalized(ll, len) == q.gold() ? 1 : 0;
        }
        assertEquals(acc / qs.size(), r.acc(), 1e-12);
        assertEquals(accNorm / qs.size(), r.accNorm(), 1e-12);
        PaftException e = assertThrows(
                PaftException.class, () -> MultipleChoice.read(EvalFixtures.RESOURCES.resolve("mc_bad_gold.jsonl")));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(
                e.getMessage().contains("mc_bad_gold.jsonl:2: ")
                        && e.getMessage().contains("gold"),
                e.getMessage());
    }

    static float[] lastLogits(EvalModel m, int[] ids) {
        try (var scope = m.model().manager().newSubManager()) {
            long[] l = Arrays.stream(ids).asLongStream().toArray();
            var logits = m.model().forward(scope, scope.create(l, new Shape(1, ids.length)), null, m.adapter(), false);
            float[] all = logits.toFloatArray();
            int v = all.length / ids.length;
            return Arrays.copyOfRange(all, (ids.length - 1) * v, ids.length * v);
        }
    }
}
