package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.nn.Activation;
import dev.paft.engine.Scalars;

/**
 * Numerically stable functions DJL lacks, built from ops it has; all keep the autograd graph.
 */
public final class StableMath {
    private static final double LN2 = Math.log(2.0);

    /** Largest argument {@link #log1mexp} uses; log1mexp(x) = log1mexp(-1e-12) above it. */
    public static final double MAX_X = -1e-12;

    private StableMath() {}

    /** {@code log sigma(x) = -softplus(-x)}, stable at +-100. */
    public static NDArray logSigmoid(NDArray x) {
        return Activation.softPlus(x.neg()).neg();
    }

    /**
     * {@code log(1 - e^x)} for x &lt;= 0, as in Maechler (2012) and TRL:
     * {@code log(-expm1(x))} for x &gt; -ln 2, else {@code log1p(-e^x)}.
     *
     * <p>DJL has no expm1/log1p. For x &gt; -ln 2, {@code -expm1(x) = -2t / (1 - t)} with
     * {@code t = tanh(x / 2)}, which keeps full relative precision as x -&gt; 0 (naive
     * {@code 1 - e^x} cancels). For x &lt;= -ln 2, {@code e^x <= 1/2}, so {@code log(1 - e^x)}
     * has a small absolute error (float32: it is 0 below x ~ -17, off by under 3e-8), which is
     * all the log-odds difference needs. The second branch sees {@code min(x, -1/2)} so that the
     * unselected branch stays finite and passes no NaN gradient through {@code where}.
     *
     * <p>x is first clamped to at most {@value #MAX_X}: a log-prob that rounds to 0 in float32
     * (a very confident model) then gives log(1e-12) with a zero gradient instead of -inf and a
     * NaN gradient (TRL's formula would give those).
     */
    public static NDArray log1mexp(NDArray x) {
        x = x.minimum(Scalars.of(MAX_X, x));
        // Near 0: log(-expm1(x)) = log(-2t / (1 - t)), t = tanh(x/2).
        NDArray t = x.mul(Scalars.of(0.5, x)).tanh();
        NDArray nearZero =
                t.mul(Scalars.of(-2.0, x)).div(t.neg().add(Scalars.of(1.0, x))).log();
        // Far from 0: log(1 - e^x) with e^x <= 1/2.
        NDArray xFar = x.minimum(Scalars.of(-0.5, x));
        NDArray far = xFar.exp().neg().add(Scalars.of(1.0, x)).log();
        return NDArrays.where(x.gt(-LN2), nearZero, far);
    }
}
