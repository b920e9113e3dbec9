package dev.paft.errors;

/**
 * An error a user can act on, carrying the process exit code it maps to.
 *
 * <p>Exit codes: 0 ok, 1 internal error, 2 usage or configuration (and an output refused by a check before
 * the work), 3 bad input files or data (and any file operation that fails), 4 numeric failure (NaN/Inf,
 * divergence), 130 interrupted.
 * The message names the file, line, key or tensor at fault. Which failure gets which code:
 * docs/ARCHITECTURE.md, "Errors and exit codes".
 */
public class PaftException extends RuntimeException {
    public static final int OK = 0;
    public static final int INTERNAL = 1;
    public static final int USAGE = 2;
    public static final int BAD_INPUT = 3;
    public static final int NUMERIC = 4;
    /** Ctrl-C (SIGINT), as a shell reports a process ended by it (128 + 2); a checkpoint is saved first. */
    public static final int INTERRUPTED = 130;

    private final int exitCode;

    public PaftException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public PaftException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }

    /** Usage or configuration error (exit 2): unknown key, wrong type, value out of range. */
    public static PaftException usage(String message) {
        return new PaftException(USAGE, message);
    }

    /** Bad input file or data (exit 3): corrupt safetensors, malformed JSONL line, shape mismatch. */
    public static PaftException badInput(String message) {
        return new PaftException(BAD_INPUT, message);
    }

    public static PaftException badInput(String message, Throwable cause) {
        return new PaftException(BAD_INPUT, message, cause);
    }

    /** Numeric failure (exit 4): NaN or Inf in a loss or a merged tensor. */
    public static PaftException numeric(String message) {
        return new PaftException(NUMERIC, message);
    }

    /**
     * A file operation that failed (exit 3): "cannot ACTION PATH: REASON", e.g. {@code io("write", file, e)}.
     * The reason is the short one of {@link IoErrors#reason}; -v prints the cause. Not for a check paft makes
     * before the work (an output it refuses, or an output file option its probe finds unwritable: exit 2,
     * {@link #usage}).
     */
    public static PaftException io(String action, Object path, Throwable cause) {
        return new PaftException(BAD_INPUT, "cannot " + action + " " + path + ": " + IoErrors.reason(cause), cause);
    }
}
