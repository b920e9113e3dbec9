package dev.paft.train;

import dev.paft.errors.PaftException;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * Detects a run that diverged while every number stayed finite (a learning rate far too high
 * destroys the adapter without ever producing NaN).
 *
 * <p>The rule (docs/GUARANTEES.md): with {@code L0} the loss of the first step this process ran
 * and {@code G0} the largest pre-clipping gradient norm of its first {@value #REFERENCE_STEPS}
 * steps, a step is <em>diverging</em> when
 * <pre>
 *   loss &gt; 2 * L0 + 1                    (far above where it started)
 *   or grad_norm &gt; 1000 * G0 and &gt; 1000   (a gradient explosion)
 *   or grad_norm &lt;= 1e-8 * G0 and loss &gt; 0 (a dead network: saturated activations pass no gradient)
 * </pre>
 * The third is what {@code --lr 1e6} (and already {@code --lr 30}) does to the tiny demo model:
 * after two or three steps the loss freezes at a constant and the gradient is exactly zero, so
 * nothing can train the adapter back. (A healthy LoRA run never has a zero gradient: B starts
 * at zero, so dL/dB does not vanish.)
 * The first diverging step prints a warning; {@value #PATIENCE} diverging steps in a row stop the
 * run with exit 4 (a single noisy batch never does). A loss that comes back below the line resets
 * the count. Training losses of a healthy run stay below their starting value, so the rule never
 * fires on a run that learns; the margins are wide because a false stop costs more than a late one.
 */
public final class DivergenceGuard {
    /** Consecutive diverging steps that stop the run. */
    public static final int PATIENCE = 5;
    /** Steps whose largest gradient norm is the reference {@code G0}. */
    public static final int REFERENCE_STEPS = 3;

    static final double GRAD_FACTOR = 1000;
    static final double DEAD_FACTOR = 1e-8;

    private final Consumer<String> warn;
    private double loss0 = Double.NaN;
    private double grad0 = 0;
    private int seen;
    private int streak;
    private int streakStart;
    private boolean warned;

    public DivergenceGuard(Consumer<String> warn) {
        this.warn = warn;
    }

    /** The loss above which a step counts as diverging (NaN before the first step). */
    public double lossLimit() {
        return 2 * loss0 + 1;
    }

    /**
     * Observes optimizer step {@code step} (1-based); exit 4 once the run has diverged.
     * {@code stopMessage} receives the first step of the diverging streak and returns the tail of the
     * message (where the last good checkpoint is).
     */
    public void observe(int step, double loss, double gradNorm, IntFunction<String> stopMessage) {
        if (seen == 0) {
            loss0 = loss;
        }
        if (seen < REFERENCE_STEPS) {
            grad0 = Math.max(grad0, gradNorm);
        }
        seen++;
        boolean lossHigh = loss > lossLimit();
        boolean gradHigh = seen > REFERENCE_STEPS && gradNorm > GRAD_FACTOR * grad0 && gradNorm > GRAD_FACTOR;
        boolean dead = seen > 1 && loss > 0 && gradNorm <= DEAD_FACTOR * grad0;
        if (!lossHigh && !gradHigh && !dead) {
            streak = 0;
            return;
        }
        if (streak++ == 0) {
            streakStart = step;
        }
        String why = lossHigh
                ? String.format(Locale.ROOT, "loss %.4g is above 2 x its starting value %.4g + 1", loss, loss0)
                : gradHigh
                        ? String.format(
                                Locale.ROOT,
                                "gradient norm %.4g is over %.0f x its starting value %.4g",
                                gradNorm,
                                GRAD_FACTOR,
                                grad0)
                        : String.format(
                                Locale.ROOT,
                                "the gradient vanished (norm %.3g, started at %.4g) while the loss is %.4g: "
                                        + "the network saturated and cannot learn any more",
                                gradNorm,
                                grad0,
                                loss);
        if (!warned) {
            warned = true;
            warn.accept(
                    "warning: step " + step + ": " + why + "; the run may be diverging (a learning rate too high?). "
                            + "It stops after " + PATIENCE + " such steps in a row.");
        }
        if (streak >= PATIENCE) {
            throw PaftException.numeric(
                    "training diverged: " + why + " at step " + step + ", and every step since step " + streakStart
                            + " was as far off; training stopped. " + stopMessage.apply(streakStart)
                            + " Lower the learning rate (training.learning_rate) or check the data.");
        }
    }
}
