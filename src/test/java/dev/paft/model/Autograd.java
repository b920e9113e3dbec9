package dev.paft.model;

import ai.djl.ndarray.NDArray;
import dev.paft.engine.GradMode;
import dev.paft.engine.Torch;
import java.util.function.Supplier;

/**
 * Test shorthand over {@link GradMode} and {@link Torch} (the production code uses those directly): backward of a
 * scalar, and switching grad mode without a scope where a test restores it by hand.
 */
public final class Autograd {
    private Autograd() {}

    /** Back-propagates a scalar loss; gradients accumulate into arrays that require them. */
    public static void backward(NDArray loss) {
        Torch.backward(loss, loss.onesLike());
    }

    /** Sets grad mode on this thread; returns the previous mode, to restore. */
    @SuppressWarnings("resource") // deliberately unscoped: the caller restores the returned mode
    public static boolean setGradMode(boolean on) {
        boolean was = GradMode.enabled();
        GradMode.set(on);
        return was;
    }

    /** Runs {@code body} with gradient recording on, restoring the previous mode. */
    public static <T> T withGrad(Supplier<T> body) {
        return GradMode.withGrad(body);
    }

    /** Runs {@code body} with gradient recording off, restoring the previous mode. */
    public static <T> T noGrad(Supplier<T> body) {
        return GradMode.noGrad(body);
    }
}
