package dev.paft.io;

import dev.paft.errors.IoErrors;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

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
        Path probe = dir.resolve("." + abs.getFileName() + ".paft-probe-"
                + ProcessHandle.current().pid());
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

    /** A short reason for an I/O error ({@link IoErrors#reason}). */
    public static String reason(Throwable e) {
        return IoErrors.reason(e);
    }

    /** The file or directory an I/O error was about, or null ({@link IoErrors#fileOf}). */
    public static String fileOf(Throwable e) {
        return IoErrors.fileOf(e);
    }

    /** True when {@code e} (or a cause) is a full disk or quota. */
    public static boolean isDiskFull(Throwable e) {
        return IoErrors.isDiskFull(e);
    }
}
