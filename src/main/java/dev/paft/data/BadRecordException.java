package dev.paft.data;

/** A dataset record that cannot be used; the reader adds {@code file:line} or skips it. */
final class BadRecordException extends RuntimeException {
    BadRecordException(String message) {
        super(message);
    }
}
