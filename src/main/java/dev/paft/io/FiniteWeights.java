package dev.paft.io;

import dev.paft.errors.PaftException;
import java.nio.file.Path;

/**
 * The load-time guard that every weight of a base model or adapter is finite: a NaN or Inf in a
 * checkpoint is a numeric failure (exit 4) naming the directory, the tensor and the first bad element,
 * raised while the loader already holds the tensor's values (one pass over a float array, no copy), so
 * scores, generations and training never run on broken weights.
 */
public final class FiniteWeights {
    private FiniteWeights() {}

    /**
     * {@code values} unchanged when all are finite; otherwise a {@link PaftException#numeric} naming the tensor.
     *
     * @param owner what the weights belong to, named in the message ("base model", "adapter")
     */
    public static float[] require(float[] values, Path dir, String tensor, String owner) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw PaftException.numeric(dir + ": tensor '" + tensor + "' holds " + values[i] + " at element " + i
                        + " (" + count(values) + " of " + values.length + " values are NaN or Inf): the " + owner
                        + " weights are not finite");
            }
        }
        return values;
    }

    private static int count(float[] values) {
        int n = 0;
        for (float v : values) {
            n += Float.isFinite(v) ? 0 : 1;
        }
        return n;
    }
}
