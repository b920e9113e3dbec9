package dev.paft.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The output files of one command, each checked for writability and locked before the work
 * starts, all released together ({@code try (OutputLocks locks = new OutputLocks()) ...}).
 */
public final class OutputLocks implements AutoCloseable {
    private final List<OutputLock> held = new ArrayList<>();

    /**
     * Checks that {@code file} (the value of {@code option}; null is skipped) can be written
     * (exit 2 otherwise, see {@link OutputFiles#requireWritable}) and locks it (exit 2 naming the
     * PID of another paft process writing it).
     */
    public void file(Path file, String option) {
        if (file == null) {
            return;
        }
        OutputFiles.requireWritable(file, option);
        held.add(OutputLock.acquire(file));
        Path abs = file.toAbsolutePath().normalize();
        try { // the temporary a killed writer of this file left (AtomicFiles.writeString's)
            Files.deleteIfExists(abs.resolveSibling("." + abs.getFileName() + ".tmp"));
        } catch (IOException ignored) {
            // best effort: the next write replaces it anyway
        }
    }

    @Override
    public void close() {
        for (int i = held.size() - 1; i >= 0; i--) {
            held.get(i).close();
        }
        held.clear();
    }
}
