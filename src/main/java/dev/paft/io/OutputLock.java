package dev.paft.io;

import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * An exclusive OS-level lock on one output (a directory or a file) for as long as a command
 * writes it, so two paft processes never write the same output.
 *
 * <p>The lock is {@link FileChannel#tryLock()} on the hidden sibling {@code .NAME.paft-lock}
 * (beside the output, not inside it, so replacing the output by a rename keeps the lock in
 * place). The operating system drops the lock when its process ends, however it ends, so a
 * lock left by a killed process never blocks: the next process simply acquires it. The holder's
 * PID is written into the file for the error message only; the file itself stays (deleting a
 * lock file while others may open it would let two processes lock two different files). When the
 * parent of an existing output directory cannot be written (a mount point), the lock file is
 * {@code .paft-lock} inside it instead.
 *
 * <p>Within one JVM (tests, {@code paft run} stages) a second acquisition of the same output is
 * refused the same way.
 */
public final class OutputLock implements AutoCloseable {
    /** Outputs locked by this JVM: the OS lock is per process, so in-process holders are tracked here. */
    private static final Map<Path, OutputLock> HELD = new HashMap<>();

    private final Path target;
    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private OutputLock(Path target, Path file, FileChannel channel, FileLock lock) {
        this.target = target;
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** The lock file of an output: {@code .NAME.paft-lock} beside it. */
    public static Path lockFileOf(Path output) {
        Path abs = canonical(output);
        return abs.resolveSibling("." + abs.getFileName() + ".paft-lock");
    }

    /**
     * Locks {@code output} or fails with exit 2 naming the PID that holds it. Creates the parent
     * directory when missing.
     */
    public static OutputLock acquire(Path output) {
        Path target = canonical(output);
        Path file = lockFileOf(target); // reassigned by the fallback below
        synchronized (HELD) {
            if (HELD.containsKey(target)) {
                throw inUse(target, ProcessHandle.current().pid());
            }
            FileChannel ch = null;
            try {
                Files.createDirectories(file.getParent());
                try {
                    ch = FileChannel.open(
                            file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                } catch (IOException e) {
                    if (!Files.isDirectory(target)) {
                        throw e;
                    }
                    // a directory whose parent paft may not write (a mount point): lock inside it instead
                    file = target.resolve(".paft-lock");
                    ch = FileChannel.open(
                            file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                }
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null;
                }
                if (l == null) {
                    long pid = readPid(ch);
                    ch.close();
                    throw inUse(target, pid);
                }
                try { // the PID is for messages only: a full disk must not fail the lock
                    ch.truncate(0);
                    ch.write(
                            ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)),
                            0);
                } catch (IOException ignored) {
                    // the message then names no PID
                }
                OutputLock ol = new OutputLock(target, file, ch, l);
                HELD.put(target, ol);
                return ol;
            } catch (IOException e) {
                closeQuietly(ch);
                throw PaftException.io("lock output " + target + " (lock file", file + ")", e);
            }
        }
    }

    private static PaftException inUse(Path target, long pid) {
        return PaftException.usage(target + " is being written by another paft process"
                + (pid > 0 ? " (PID " + pid + ")" : "") + "; wait for it to finish or choose another output");
    }

    private static long readPid(FileChannel ch) {
        try {
            ByteBuffer buf = ByteBuffer.allocate(32);
            ch.read(buf, 0);
            String s = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).trim();
            return s.isEmpty() ? -1 : Long.parseLong(s);
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** Absolute, normalized, with symlinks in the existing part of the path resolved. */
    static Path canonical(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
        } catch (IOException e) {
            return abs;
        }
    }

    public Path target() {
        return target;
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        synchronized (HELD) {
            HELD.remove(target, this);
            try {
                lock.release();
            } catch (IOException ignored) {
                // the channel close below releases it too
            }
            closeQuietly(channel);
        }
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing more to do
            }
        }
    }
}
