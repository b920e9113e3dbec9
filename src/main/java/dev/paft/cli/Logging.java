package dev.paft.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;

/** Log verbosity from {@code -v}: warnings by default, info with -v, debug with -vv. */
final class Logging {
    private static int verbosity;

    private Logging() {}

    static int verbosity() {
        return verbosity;
    }

    static void setVerbosity(int v) {
        verbosity = v;
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.setLevel(v >= 2 ? Level.DEBUG : v == 1 ? Level.INFO : Level.WARN);
        ((Logger) LoggerFactory.getLogger("dev.paft")).setLevel(v >= 2 ? Level.DEBUG : Level.INFO);
    }
}
