package dev.paft.io;

import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;

/**
 * Output files given on the command line ({@code sparsity-report -o}, {@code eval --output-json}):
 * checked for writability before any work, and write errors turned into one line.
 */
public final class OutputFiles {
    private OutputFiles() {}

    /**
     * Fails with exit 2 when {@code file} (the value of {@code option}) cannot be written: its
     * directory is missing and cannot be created, is not a directory, is read-only, or the path is a
     * directory. Probes by creating and deleting a hidden file beside the target, which also
     * catches read-only mounts and a full disk.
     */
    public static void requireWritable(Path file, String option) {
        Path abs = file.toAbsolutePath().normalize();
        if (Files.isDirectory(abs)) {
            throw PaftException.usage(option + " " + file + ": is a directory; give a file name");
        }
        Path dir = abs.getParent();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw PaftException.usage(option + " " + file + ": cannot create its directory: " + reason(e));
        }
        if (Files.exists(abs) && !Files.isWritable(abs)) {
            throw PaftException.usage(option + " " + file + ": the file is read-only");
        }
        Path probe = dir.resolve("." + abs.getFileName() + ".paft-probe-" + ProcessHandle.current().pid());
        try {
            Files.write(probe, new byte[] {0});
        } catch (IOException e) {
            throw PaftException.usage(option + " " + file + ": cannot write in " + dir + ": " + reason(e));
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    /**
     * A short reason for an I/O error: "no space left on device", "read-only file system",
     * "permission denied", "no such file or directory", else the exception's own message.
     */
    public static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
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

    /**
     * The file or directory an I/O error was about, or null. Used by the CLI to print
     * "no space left on device writing X" as one line.
     */
    public static String fileOf(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
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
}
