package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.config.L1Target;
import dev.paft.engine.Scalars;
import dev.paft.errors.PaftException;
import java.util.List;

/**
 * L1 sparsity penalty on LoRA adapters, {@code P = lambda * R}, with one of two targets:
 * <ul>
 *   <li>{@code factors}: {@code R = sum_m (||A_m||_1 + ||B_m||_1)}, the entries of the
 *       adapter factors themselves;</li>
 *   <li>{@code delta}: {@code R = sum_m ||scaling_m * B_m @ A_m||_1}, the entries of each
 *       module's weight update (what a merge adds to the base).</li>
 * </ul>
 * Shapes (PEFT): A [r, in], B [out, r], delta [out, in]. The gradient of |x| at 0 is 0
 * (PyTorch's {@code sign}).
 *
 * <p>The factors are long-lived parameters, so the first intermediate of each module is
 * attached to the caller's step manager and every later result follows it there.
 */
public final class L1Penalty {
    /** One adapted module: {@code delta = scaling * B @ A}. */
    public record LoraFactors(String name, NDArray a, NDArray b, double scaling) {}

    private final L1Target target;
    private final double lambda;

    public L1Penalty(L1Target target, double lambda) {
        if (!(lambda >= 0)) {
            throw PaftException.usage("l1 lambda must be >= 0, got " + lambda);
        }
        this.target = target;
        this.lambda = lambda;
    }

    public L1Target target() {
        return target;
    }

    public double lambda() {
        return lambda;
    }

    /** {@code lambda * R} as a scalar tensor on {@code step}. */
    public NDArray compute(List<LoraFactors> modules, NDManager step) {
        return scale(target == L1Target.FACTORS ? factorsNorm(modules, step) : deltaNorm(modules, step));
    }

    /** {@code lambda * r} for a norm {@code r} already computed (e.g. the logged one): same value and graph as {@link #compute}. */
    public NDArray scale(NDArray r) {
        return r.mul(Scalars.of(lambda, r));
    }

    /** {@code sum_m ||A_m||_1 + ||B_m||_1}, a scalar on {@code step}. */
    public static NDArray factorsNorm(List<LoraFactors> modules, NDManager step) {
        NDArray total = null;
        for (LoraFactors m : modules) {
            NDArray term = onStep(m.a().abs(), step)
                    .sum()
                    .add(onStep(m.b().abs(), step).sum());
            total = total == null ? term : total.add(term);
        }
        return total == null ? step.zeros(new Shape()) : total;
    }

    /** {@code sum_m ||scaling_m * B_m @ A_m||_1}, a scalar on {@code step}. */
    public static NDArray deltaNorm(List<LoraFactors> modules, NDManager step) {
        NDArray total = null;
        for (LoraFactors m : modules) {
            NDArray delta = onStep(m.b().matMul(m.a()), step); // [out, in]
            NDArray term = delta.mul(Scalars.of(m.scaling(), delta)).abs().sum();
            total = total == null ? term : total.add(term);
        }
        return total == null ? step.zeros(new Shape()) : total;
    }

    private static NDArray onStep(NDArray x, NDManager step) {
        x.attach(step);
        return x;
    }
}
