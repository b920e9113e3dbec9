package dev.paft.engine;

import java.util.function.Supplier;

/**
 * A scope of autograd mode on the calling thread, restored when it closes:
 * <pre>{@code
 * try (GradMode g = GradMode.off()) {   // optimizer update, scoring, generation
 *     ...
 * }
 * }</pre>
 * PyTorch's grad mode is thread-local and DJL starts with it off: trainers switch it on around the forward whose
 * loss they back-propagate ({@link #on}), and every in-place update of a leaf runs with it off ({@link #off}).
 * The one place that switches it; nothing else calls {@code JniUtils.setGradMode}.
 */
public final class GradMode implements AutoCloseable {
    private final boolean previous;
    private boolean closed;

    private GradMode(boolean on) {
        this.previous = Torch.gradEnabled();
        Torch.setGradEnabled(on);
    }

    /** Records ops for backward until closed. */
    public static GradMode on() {
        return new GradMode(true);
    }

    /** Records nothing until closed. */
    public static GradMode off() {
        return new GradMode(false);
    }

    /** {@code on} or {@code off}. */
    public static GradMode set(boolean on) {
        return new GradMode(on);
    }

    /** Runs {@code body} with recording on, restoring the previous mode. */
    public static <T> T withGrad(Supplier<T> body) {
        try (GradMode g = on()) {
            return body.get();
        }
    }

    /** Runs {@code body} with recording off, restoring the previous mode. */
    public static <T> T noGrad(Supplier<T> body) {
        try (GradMode g = off()) {
            return body.get();
        }
    }

    /** True when ops are recorded on this thread now. */
    public static boolean enabled() {
        return Torch.gradEnabled();
    }

    /** Restores the mode found when this scope opened (once). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Torch.setGradEnabled(previous);
        }
    }
}
