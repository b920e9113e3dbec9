package dev.paft.train.loss;

import static dev.paft.train.loss.Golden.doubles;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

class StableMathTest {
    private static final JsonNode GOLDEN = Golden.load("golden_losses.json").get("log1mexp");

    /** float32 log1mexp against float64 log(-expm1(x)) / log1p(-exp(x)): relative error near 0, absolute far. */
    @Test
    void log1mexpIsAccurateNearZeroAndFarAway() {
        double[] x = doubles(GOLDEN.get("x"));
        double[] y = doubles(GOLDEN.get("y"));
        double[] dy = doubles(GOLDEN.get("grad"));
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray xs = m.create(x).toType(DataType.FLOAT32, false);
            xs.setRequiresGradient(true);
            double[] got;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray out = StableMath.log1mexp(xs);
                got = out.toType(DataType.FLOAT64, false).toDoubleArray();
                gc.backward(out.sum());
            }
            double[] grad = xs.getGradient().toType(DataType.FLOAT64, false).toDoubleArray();
            for (int i = 0; i < x.length; i++) {
                // Java's own float64 reference agrees with PyTorch's.
                double ref = x[i] > -Math.log(2) ? Math.log(-Math.expm1(x[i])) : Math.log1p(-Math.exp(x[i]));
                assertEquals(ref, y[i], 1e-12 * Math.abs(ref) + 1e-300, "reference at " + x[i]);
                double err = Math.abs(got[i] - y[i]);
                assertTrue(
                        err <= 1e-6 * Math.abs(y[i]) || err <= 1e-7,
                        "log1mexp(" + x[i] + ") = " + got[i] + ", want " + y[i] + " (err " + err + ")");
                double gerr = Math.abs(grad[i] - dy[i]);
                assertTrue(
                        gerr <= 1e-5 * Math.abs(dy[i]) || gerr <= 1e-7,
                        "d log1mexp(" + x[i] + ") = " + grad[i] + ", want " + dy[i]);
            }
        }
    }

    /** The naive float32 formula is what the stable one replaces: it is off by ~5% at x = -1e-6. */
    @Test
    void naiveFormulaLosesPrecisionNearZero() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(-1e-6f);
            double naive = x.exp().neg().add(1f).log().getFloat();
            double stable = StableMath.log1mexp(x).getFloat();
            double ref = Math.log(-Math.expm1((double) -1e-6f));
            assertTrue(Math.abs(naive - ref) > 1e-3, "naive " + naive);
            assertEquals(ref, stable, 1e-6 * Math.abs(ref));
        }
    }

    @Test
    void log1mexpAtZeroIsClampedAndGradientsStayFinite() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(new float[] {0f, -1000f});
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = StableMath.log1mexp(x);
                assertEquals(Math.log(1e-12), y.getFloat(0), 1e-5);
                assertEquals(0f, y.getFloat(1));
                gc.backward(y.sum());
            }
            assertEquals(0f, x.getGradient().getFloat(0));
            assertEquals(0f, x.getGradient().getFloat(1));
        }
    }

    @Test
    void logSigmoidIsStableAtPlusMinus100() {
        try (NDManager m = NDManager.newBaseManager()) {
            float[] y = StableMath.logSigmoid(m.create(new float[] {-100f, 0f, 100f}))
                    .toFloatArray();
            assertEquals(-100f, y[0], 1e-5);
            assertEquals(-Math.log(2), y[1], 1e-7);
            assertEquals(0f, y[2], 1e-30);
        }
    }
}
