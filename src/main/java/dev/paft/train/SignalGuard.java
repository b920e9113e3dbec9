package dev.paft.train;

import dev.paft.errors.PaftException;
import java.util.function.Supplier;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Routes SIGINT (Ctrl-C) to a callback while installed, so training can save a checkpoint
 * before exiting; restores the previous handler on close. A second Ctrl-C exits at once.
 */
final class SignalGuard implements AutoCloseable {
    private final SignalHandler previous;
    private final boolean installed;

    private SignalGuard(SignalHandler previous, boolean installed) {
        this.previous = previous;
        this.installed = installed;
    }

    /** Routes the first Ctrl-C to {@code onInterrupt}, then prints {@code message}'s line. */
    static SignalGuard install(Runnable onInterrupt, Supplier<String> message) {
        try {
            final boolean[] seen = {false};
            SignalHandler prev = Signal.handle(new Signal("INT"), sig -> {
                if (seen[0]) {
                    Runtime.getRuntime().halt(PaftException.INTERRUPTED);
                }
                seen[0] = true;
                onInterrupt.run();
                System.err.println("\n" + message.get());
            });
            return new SignalGuard(prev, true);
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return new SignalGuard(null, false);
        }
    }

    @Override
    public void close() {
        if (installed && previous != null) {
            Signal.handle(new Signal("INT"), previous);
        }
    }
}
