package dev.paft.errors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.ReadOnlyFileSystemException;

/**
 * I/O failures in one line: the short reason a user acts on ("no space left on device", "permission
 * denied", ...) and the file the error was about. The error policy (docs/ARCHITECTURE.md, "Errors and
 * exit codes"): a file operation that fails is exit 3 ({@link PaftException#io}), never an internal error;
 * an output refused by a check before the work is exit 2.
 */
public final class IoErrors {
    private IoErrors() {}

    /**
     * A short reason for an I/O error: "no space left on device", "read-only file system",
     * "permission denied", "no such file or directory", "not a directory", else the exception's own message.
     */
    public static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = String.valueOf(t.getMessage());
            if (m.contains("No space left on device") || m.contains("Disk quota exceeded")) {
                return "no space left on device";
            }
            if (m.contains("Read-only file system") || t instanceof ReadOnlyFileSystemException) {
                return "read-only file system";
            }
            if (t instanceof AccessDeniedException || m.contains("Permission denied")) {
                return "permission denied";
            }
            if (t instanceof NoSuchFileException) {
                return "no such file or directory";
            }
            if (m.contains("Not a directory")) {
                return "not a directory";
            }
        }
        if (e instanceof FileSystemException fse && fse.getReason() != null) {
            return fse.getReason();
        }
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    /** The file or directory an I/O error was about, or null. */
    public static String fileOf(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof FileSystemException fse && fse.getFile() != null) {
                return fse.getFile();
            }
        }
        return null;
    }

    /** True when {@code e} (or a cause) is a full disk or quota. */
    public static boolean isDiskFull(Throwable e) {
        return reason(e).equals("no space left on device");
    }

    /** The first {@link java.io.IOException} or {@link java.io.UncheckedIOException} in {@code e}'s cause chain, or null. */
    public static Throwable ioCause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof IOException || t instanceof UncheckedIOException) {
                return t;
            }
        }
        return null;
    }
}
