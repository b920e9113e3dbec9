package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import dev.paft.testutil.Cli;
import dev.paft.testutil.TinyModels;
import dev.paft.train.DivergenceGuard;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 19 item 8: a run destroyed by a huge learning rate stops with exit 4; a healthy one never does. */
class DivergenceAttackTest {
    @TempDir
    Path tmp;

    /** Feeds (loss, grad_norm) pairs for steps 1..n; returns the step that stopped the run, or 0. */
    static int feed(double[][] steps, List<String> warnings) {
        DivergenceGuard g = new DivergenceGuard(warnings::add);
        for (int i = 0; i < steps.length; i++) {
            try {
                g.observe(i + 1, steps[i][0], steps[i][1], first -> "from " + first);
            } catch (PaftException e) {
                assertEquals(4, e.exitCode());
                return i + 1;
            }
        }
        return 0;
    }

    // Measured on the bundled demo model (train-sft, batch 4, max_length 64, r 4, 20 steps):
    // (loss, pre-clip grad norm) per step, from metrics.jsonl.
    static final double[][] LR_1 = {
        {5.74, 11.8},
        {5.53, 6.97},
        {5.01, 241},
        {8.09, 8.02},
        {5.93, 1.25},
        {6.89, 0.679},
        {6.53, 0.431},
        {3.47, 0.249},
        {3.67, 0.182},
        {3.40, 0.12},
        {2.86, 0.0675},
        {3.14, 0.124},
        {3.28, 0.129},
        {2.65, 0.115},
        {2.87, 0.144},
        {2.54, 0.0516},
        {3.01, 0.666},
        {2.32, 0.0497},
        {2.49, 0.0416},
        {2.58, 0.0537}
    };
    static final double[][] LR_30 = {
        {5.74, 11.8},
        {5.53, 6.97},
        {7.86, 248},
        {7.95, 0.0549},
        {5.63, 0.00366},
        {5.62, 0},
        {5.62, 0},
        {5.62, 0},
        {5.62, 0},
        {5.62, 0},
        {5.62, 0},
        {5.62, 0}
    };

    @Test
    void divergenceRuleOnMeasuredRuns() {
        List<String> w = new ArrayList<>();
        assertEquals(0, feed(LR_1, w), "lr 1 spikes (grad x20, loss 8.09 < 2 x 5.74 + 1) and recovers");
        assertEquals(List.of(), w);
        assertEquals(10, feed(LR_30, w), "lr 30: zero gradient from step 6, stopped after 5 such steps");
        assertEquals(1, w.size(), "one warning, at step 6: " + w);
        assertTrue(w.get(0).startsWith("warning: step 6: the gradient vanished"), w.get(0));
    }

    @Test
    void divergenceRuleLossAndGradientLimits() {
        List<String> w = new ArrayList<>();
        // loss limit 2 x 1.0 + 1 = 3: four steps above, one below, five above -> stops at step 11
        double[][] s = {
            {1, 1}, {3.5, 1}, {3.5, 1}, {3.5, 1}, {3.5, 1}, {2.9, 1}, {3.01, 1}, {4, 1}, {9, 1}, {9, 1}, {9, 1}
        };
        assertEquals(11, feed(s, w));
        assertEquals(1, w.size());
        // gradient explosion: G0 = max of the first 3 norms = 2; limit 2000
        double[][] g = {{1, 1}, {1, 2}, {1, 1}, {1, 1999}, {1, 2001}, {1, 1e5}, {1, 1e5}, {1, 1e5}, {1, 1e5}};
        assertEquals(9, feed(g, w));
        // a healthy run: loss falling, norm moving within x1000 and never zero
        double[][] h = new double[200][];
        for (int i = 0; i < h.length; i++) {
            h[i] = new double[] {5.5 * Math.exp(-i / 50.0) + 0.1 * Math.sin(i), 10 * Math.exp(-i / 30.0) + 1e-3};
        }
        w.clear();
        assertEquals(0, feed(h, w));
        assertEquals(List.of(), w);
    }

    @Test
    void divergenceOfAHugeLearningRateExits4() throws Exception {
        Path model = TinyModels.demo(tmp.resolve("base"));
        Path out = tmp.resolve("lr1e6");
        Cli.Run r = Attack.cli(Attack.sft(model, out, "--lr", "1e6", "--max-steps", "20"));
        assertEquals(4, r.code(), r.all());
        assertTrue(r.err().contains("training diverged"), r.err());
        assertTrue(r.err().contains("Lower the learning rate"), r.err());
        assertFalse(Files.exists(out.resolve("paft_state.json")), "no finished-looking run");
        assertFalse(Files.exists(out.resolve("adapter_model.safetensors")), "no final adapter");
        assertThrows(PaftException.class, () -> {
            throw PaftException.numeric("x");
        });
    }
}
