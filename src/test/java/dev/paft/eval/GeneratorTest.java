package dev.paft.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import dev.paft.testutil.EvalFixtures;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** KV-cache generation: greedy equals full recomputation, batching, seeded sampling, stopping. */
class GeneratorTest {
    @TempDir
    static Path tmp;

    static EvalModel m;

    @BeforeAll
    static void load() {
        Path dir = EvalFixtures.model(tmp.resolve("model"), 13);
        m = EvalModel.open(dir, EvalFixtures.adapter(tmp.resolve("adapter"), 2), null, EvalFixtures.cpu(), false);
    }

    @AfterAll
    static void close() {
        m.close();
    }

    int[] prompt(String text) {
        return Generator.promptIds(m.tokenizer(), text, null);
    }

    @Test
    void greedyIsDeterministicAndEqualsArgmaxWithoutCache() {
        int[] p = prompt("Once upon a time there was");
        var cfg = Generator.Config.greedy(8);
        Generator.Generation g = Generator.generate(m, List.of(p), cfg, 1).get(0);
        assertArrayEquals(
                g.tokens(), Generator.generate(m, List.of(p), cfg, 1).get(0).tokens());
        // recompute: full forward over prompt + generated, argmax of the last position
        int[] seq = p;
        for (int t = 0; t < g.tokens().length; t++) {
            int next = Sampling.argmax(ScoringEvalsTest.lastLogits(m, seq));
            assertEquals(next, g.tokens()[t], "token " + t);
            seq = LogLikelihoodTest.concat(seq, new int[] {next});
        }
        assertEquals(8, g.tokens().length);
        assertEquals(Generator.Finish.LENGTH, g.finish());
        assertEquals(m.tokenizer().decode(g.tokens(), true), g.text());
        assertArrayEquals(p, g.promptIds());
    }

    @Test
    void aBatchGeneratesWhatEachPromptDoesAlone() {
        List<int[]> ps = List.of(prompt("Hello"), prompt("The weather today is rather"), prompt("A"));
        var cfg = Generator.Config.greedy(6);
        List<Generator.Generation> batch = Generator.generate(m, ps, cfg, 3);
        for (int i = 0; i < ps.size(); i++) {
            assertArrayEquals(
                    Generator.generate(m, List.of(ps.get(i)), cfg, 1).get(0).tokens(),
                    batch.get(i).tokens(),
                    "prompt " + i);
        }
    }

    @Test
    void samplingIsSeededAndIndependentOfBatching() {
        List<int[]> ps = List.of(prompt("Hello"), prompt("Once upon a time"));
        var cfg = new Generator.Config(10, 1.0, 0.95, 1234);
        List<Generator.Generation> a = Generator.generate(m, ps, cfg, 2);
        List<Generator.Generation> b = Generator.generate(m, ps, cfg, 1);
        for (int i = 0; i < ps.size(); i++) {
            assertArrayEquals(a.get(i).tokens(), b.get(i).tokens());
        }
        List<Generator.Generation> other = Generator.generate(m, ps, new Generator.Config(10, 1.0, 0.95, 99), 2);
        assertFalse(Arrays.equals(a.get(1).tokens(), other.get(1).tokens()), "another seed, other tokens");
    }

    @Test
    void stopsAtAnEndToken() {
        int[] p = prompt("Once upon a time there was");
        int[] greedy = Generator.generate(m, List.of(p), Generator.Config.greedy(5), 1)
                .get(0)
                .tokens();
        // the same weights with the third greedy token declared an end token in config.json
        Path dir = EvalFixtures.model(tmp.resolve("eos-model"), 13, 2, greedy[2]);
        try (EvalModel e = EvalModel.open(dir, tmp.resolve("adapter"), null, EvalFixtures.cpu(), false)) {
            Generator.Generation g = Generator.generate(e, List.of(p), Generator.Config.greedy(5), 1)
                    .get(0);
            int stop = 0;
            while (greedy[stop] != greedy[2]) {
                stop++;
            }
            assertArrayEquals(Arrays.copyOf(greedy, stop + 1), g.tokens());
            assertEquals(Generator.Finish.EOS, g.finish());
            assertEquals(
                    e.tokenizer().decode(Arrays.copyOf(greedy, stop), true), g.text(), "end token not in the text");
        }
    }

    @Test
    void nucleusAndSoftmaxOnHandValues() {
        double[] p = {0.2, 0.5, 0.3};
        assertArrayEquals(new int[] {1}, Sampling.nucleus(p, 0.5));
        assertArrayEquals(new int[] {1, 2}, Sampling.nucleus(p, 0.6));
        assertArrayEquals(new int[] {1, 2, 0}, Sampling.nucleus(p, 1.0));
        assertArrayEquals(new int[] {1}, Sampling.nucleus(p, 1e-9), "at least one");
        double[] s = Sampling.softmax(new float[] {0, (float) Math.log(3)}, 1.0);
        assertEquals(0.25, s[0], 1e-7);
        assertEquals(0.75, s[1], 1e-7);
        double[] hot = Sampling.softmax(new float[] {0, (float) Math.log(3)}, 2.0);
        assertEquals(1 / (1 + Math.sqrt(3)), hot[0], 1e-7);
        // frequencies follow the probabilities; top-p 0.6 never draws token 0
        SplittableRandom rng = new SplittableRandom(1);
        float[] logits = {(float) Math.log(0.2), (float) Math.log(0.5), (float) Math.log(0.3)};
        int[] counts = new int[3];
        for (int i = 0; i < 20000; i++) {
            counts[Sampling.next(logits, 1.0, 1.0, rng)]++;
        }
        assertEquals(0.5, counts[1] / 20000.0, 0.02);
        assertEquals(0.2, counts[0] / 20000.0, 0.02);
        for (int i = 0; i < 2000; i++) {
            assertTrue(Sampling.next(logits, 1.0, 0.6, rng) != 0);
        }
        assertEquals(1, Sampling.next(logits, 0, 1.0, rng), "temperature 0 is greedy");
        assertThrows(PaftException.class, () -> new Generator.Config(5, 1, 1.5, 0));
        assertThrows(PaftException.class, () -> new Generator.Config(0, 1, 1, 0));
    }
}
