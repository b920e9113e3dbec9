package dev.paft.io;

import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Outputs that appear complete or not at all: written to a temporary sibling, renamed when done.
 *
 * <p>A directory is built as {@code .NAME.tmp-PID} next to its target and moved into place by
 * {@link #commitDir}; an interrupted run leaves only the hidden temporary sibling, never a
 * directory that looks finished.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes a text file via a temporary sibling and an atomic rename. */
    public static void writeString(Path file, String text) throws IOException {
        Path abs = file.toAbsolutePath();
        if (abs.getParent() != null) {
            Files.createDirectories(abs.getParent());
        }
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Creates a fresh temporary sibling directory for {@code target}. */
    public static Path tempDirFor(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        Path tmp = abs.resolveSibling(
                "." + abs.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            deleteRecursively(tmp);
            Files.createDirectories(tmp);
        } catch (IOException e) {
            throw PaftException.io("create", tmp, e);
        }
        return tmp;
    }

    /**
     * Moves a finished temporary directory onto {@code target}. An existing non-empty target is
     * replaced only with {@code overwrite} (renamed aside, then deleted once the new one is in
     * place: {@link OutputDirs#swapIn}); otherwise exit 2 and the temporary directory is kept.
     */
    public static void commitDir(Path tmp, Path target, boolean overwrite) {
        Path abs = target.toAbsolutePath().normalize();
        try {
            if (Files.exists(abs)) {
                if (!overwrite && !isEmptyDir(abs)) {
                    throw PaftException.usage(abs + " already exists; pass --overwrite to replace it");
                }
            }
            OutputDirs.swapIn(tmp, abs); // the old output stays whole until the new one is in place
        } catch (IOException e) {
            throw PaftException.io("move " + tmp + " to", abs, e);
        }
    }

    /** Fails with exit 2 when {@code target} exists and is not empty, unless {@code overwrite}. */
    public static void checkWritable(Path target, boolean overwrite) {
        if (!overwrite && Files.exists(target) && !isEmptyDir(target)) {
            throw PaftException.usage(target + " already exists; pass --overwrite to replace it");
        }
    }

    public static boolean isEmptyDir(Path p) {
        try (var s = Files.list(p)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    public static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    public static void deleteQuietly(Path p) {
        try {
            deleteRecursively(p);
        } catch (IOException ignored) {
            // best effort
        }
    }
}
