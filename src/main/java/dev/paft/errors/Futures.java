package dev.paft.errors;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting for work handed to another thread, so that its failure surfaces as if it ran on this one. */
public final class Futures {
    private Futures() {}

    /**
     * The result of {@code f}. A task's own unchecked exception or error is rethrown unchanged (a
     * {@link PaftException} keeps its exit code); a checked one becomes an internal error (exit 1) with it
     * as the cause; an interrupted wait is exit 130 with the thread's interrupt flag kept.
     */
    public static <T> T get(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PaftException(PaftException.INTERRUPTED, "interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error er) {
                throw er;
            }
            throw new PaftException(PaftException.INTERNAL, String.valueOf(c), c);
        }
    }
}
