package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.paft.errors.PaftException;

/** Guards the training loop applies to a loss before back-propagating it. */
public final class LossChecks {
    private LossChecks() {}

    /** The loss's value; a {@link PaftException#numeric} (exit 4) naming it if NaN or Inf. */
    public static double requireFinite(NDArray loss, String what) {
        double v;
        try (NDArray d = loss.toType(DataType.FLOAT64, true)) {
            v = d.getDouble();
        }
        if (!Double.isFinite(v)) {
            throw PaftException.numeric(what + " is " + v);
        }
        return v;
    }
}
