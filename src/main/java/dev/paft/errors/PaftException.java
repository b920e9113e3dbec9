package dev.paft.errors;

/**
 * An error a user can act on, carrying the process exit code it maps to.
 *
 * <p>Exit codes: 0 ok, 1 internal error, 2 usage or configuration, 3 bad input files or data,
 * 4 numeric failure (NaN/Inf). The message names the file, line, key or tensor at fault.
 */
public class PaftException extends RuntimeException {
    public static final int OK = 0;
    public static final int INTERNAL = 1;
    public static final int USAGE = 2;
    public static final int BAD_INPUT = 3;
    public static final int NUMERIC = 4;

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

    /** A feature that is not built yet (exit 1): the command says so instead of faking output. */
    public static PaftException notBuilt(String what) {
        return new PaftException(INTERNAL, what + " is not built yet in this version of paft");
    }
}
