package dev.paft.data;

/** A dataset record that cannot be used; the reader adds {@code file:line} or skips it. */
public class BadRecordException extends RuntimeException {
    public BadRecordException(String message) {
        super(message);
    }
}
