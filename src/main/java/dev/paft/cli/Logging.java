package dev.paft.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;

/**
 * Log verbosity. Default: paft's own info lines and every library's warnings. {@code -v}: paft's
 * debug lines (model loading, memory, per-matrix sparsity) and, in training, a line per logged step
 * even on a terminal. {@code -vv}: debug from DJL and the PyTorch engine as well (the CUDA probe included).
 */
final class Logging {
    private static int verbosity;

    private Logging() {}

    static int verbosity() {
        return verbosity;
    }

    static void setVerbosity(int v) {
        verbosity = v;
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.setLevel(v >= 2 ? Level.DEBUG : Level.WARN);
        ((Logger) LoggerFactory.getLogger("ai.djl")).setLevel(v >= 2 ? Level.DEBUG : Level.WARN);
        ((Logger) LoggerFactory.getLogger("dev.paft")).setLevel(v >= 1 ? Level.DEBUG : Level.INFO);
    }
}
