package dev.paft.train.optim;

import dev.paft.config.Scheduler;
import dev.paft.errors.PaftException;

/**
 * Learning rate {@code lr(s) = baseLr * m(s)} at optimizer step s (0-based: the first update
 * uses s = 0), with linear warm-up then a decay, exactly as Hugging Face's
 * {@code get_*_schedule_with_warmup} (W warm-up steps, N total steps):
 * <ul>
 *   <li>warm-up, s &lt; W: {@code m = s / max(1, W)};</li>
 *   <li>{@code cosine}: {@code p = (s - W) / max(1, N - W)}, {@code m = max(0, (1 + cos(pi p)) / 2)};</li>
 *   <li>{@code linear}: {@code m = max(0, (N - s) / max(1, N - W))};</li>
 *   <li>{@code constant}: {@code m = 1}.</li>
 * </ul>
 * Warm-up from a ratio is {@code ceil(ratio * N)} as {@code TrainingArguments.get_warmup_steps}
 * (a positive step count wins over the ratio).
 */
public final class LrSchedule {
    private final Scheduler kind;
    private final double baseLr;
    private final int warmupSteps;
    private final int totalSteps;

    public LrSchedule(Scheduler kind, double baseLr, int warmupSteps, int totalSteps) {
        if (warmupSteps < 0 || totalSteps < 0) {
            throw PaftException.usage(
                    "warm-up and total steps must be >= 0, got " + warmupSteps + " and " + totalSteps);
        }
        this.kind = kind;
        this.baseLr = baseLr;
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
    }

    /** HF's warm-up steps: {@code steps} if positive, else {@code ceil(ratio * totalSteps)}. */
    public static int warmupSteps(int totalSteps, double ratio, int steps) {
        if (steps > 0) {
            return steps;
        }
        if (!(ratio >= 0 && ratio <= 1)) {
            throw PaftException.usage("warmup_ratio must be in [0, 1], got " + ratio);
        }
        return (int) Math.ceil(ratio * totalSteps);
    }

    /** The multiplier m(s). */
    public double multiplier(int step) {
        if (step < warmupSteps) {
            return (double) step / Math.max(1, warmupSteps);
        }
        return switch (kind) {
            case CONSTANT -> 1.0;
            case LINEAR -> Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
            case COSINE -> {
                double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
                yield Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 0.5 * 2.0 * progress)));
            }
        };
    }

    /** The learning rate at step s: {@code baseLr * m(s)}. */
    public double lr(int step) {
        return baseLr * multiplier(step);
    }

    public Scheduler kind() {
        return kind;
    }

    public double baseLr() {
        return baseLr;
    }

    public int warmupSteps() {
        return warmupSteps;
    }

    public int totalSteps() {
        return totalSteps;
    }
}
