package dev.paft.engine;

import ai.djl.Device;
import ai.djl.util.cuda.CudaUtils;
import dev.paft.errors.PaftException;
import dev.paft.io.WeightStorage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a device can hold, and the one mapping of out-of-memory failures to a user-facing message.
 *
 * <p>Memory: the CPU's is {@code MemTotal} / {@code MemAvailable} of {@code /proc/meminfo}; a GPU's comes from
 * the CUDA runtime (DJL's {@link CudaUtils}, which needs no engine start), and is unknown (-1) where that fails.
 *
 * <p>Out of memory: libtorch reports a failed allocation as an {@code ai.djl.engine.EngineException} whose text
 * holds {@code "CUDA out of memory"} (GPU) or {@code "DefaultCPUAllocator: not enough memory"} /
 * {@code "can't allocate memory"} (CPU); the JVM as {@link OutOfMemoryError}. {@link #isOutOfMemory} recognises
 * them, {@link #outOfMemory} turns them into one line (exit 1) naming the settings to lower.
 */
public final class DeviceMemory {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceMemory.class);
    private static final double GIB = 1024.0 * 1024 * 1024;

    private DeviceMemory() {}

    /** The device's total memory in bytes, or -1 when unknown. A null device is the CPU. */
    public static long totalBytes(Device device) {
        if (isCpu(device)) {
            return meminfo("MemTotal");
        }
        try {
            return CudaUtils.hasCuda() ? CudaUtils.getGpuMemory(device).getMax() : -1;
        } catch (RuntimeException | LinkageError e) {
            return -1;
        }
    }

    /** Memory still available on the device in bytes (CPU: MemAvailable), or -1 when unknown. */
    public static long availableBytes(Device device) {
        if (isCpu(device)) {
            return meminfo("MemAvailable");
        }
        try {
            if (!CudaUtils.hasCuda()) {
                return -1;
            }
            var m = CudaUtils.getGpuMemory(device);
            return m.getMax() - m.getUsed();
        } catch (RuntimeException | LinkageError e) {
            return -1;
        }
    }

    /** "cpu" or "cuda:N". */
    public static String name(Device device) {
        return isCpu(device) ? "cpu" : "cuda:" + device.getDeviceId();
    }

    static boolean isCpu(Device device) {
        return device == null || !device.isGpu();
    }

    /** A value in GiB with two decimals. */
    public static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / GIB);
    }

    /** A {@code /proc/meminfo} field in bytes, or -1 when it cannot be read. */
    static long meminfo(String key) {
        return meminfo(Path.of("/proc/meminfo"), key);
    }

    static long meminfo(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(key + ":")) {
                    String[] f = line.substring(key.length() + 1).trim().split("\\s+");
                    long v = Long.parseLong(f[0]);
                    return f.length > 1 && f[1].equalsIgnoreCase("kB") ? v * 1024 : v;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /**
     * Refuses (exit 1) when {@code bytes} exceed the device's total memory; warns when they exceed what is
     * available now. {@code what} names the thing ("model X's weights"), {@code hint} the setting to change.
     */
    public static void requireFits(Device device, long bytes, String what, String hint) {
        long total = totalBytes(device);
        if (total > 0 && bytes > total) {
            throw new PaftException(
                    PaftException.INTERNAL,
                    what + " need " + gib(bytes) + " but " + name(device) + " has " + gib(total) + " in all: " + hint);
        }
        long avail = availableBytes(device);
        if (avail > 0 && bytes > avail) {
            LOG.warn(
                    "{} need {} but only {} of {} is available now; loading may fail or swap",
                    what,
                    gib(bytes),
                    gib(avail),
                    name(device));
        }
    }

    /** True when {@code t} or a cause is a failed allocation of libtorch (CPU or CUDA) or the JVM. */
    public static boolean isOutOfMemory(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof OutOfMemoryError) {
                return true;
            }
            String m = c.getMessage();
            if (m != null
                    && (m.contains("CUDA out of memory")
                            || m.contains("DefaultCPUAllocator")
                            || m.contains("not enough memory")
                            || m.contains("can't allocate memory")
                            || m.contains("Cannot allocate memory")
                            || m.contains("out of memory"))) {
                return true;
            }
        }
        return false;
    }

    /** The first line of the engine's own message (its C++ stack trace dropped), at most 160 characters. */
    static String engineLine(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            String m = c.getMessage();
            if (m != null && !m.isBlank()) {
                String line = m.strip().lines().findFirst().orElse("").strip();
                return line.length() > 160 ? line.substring(0, 157) + "..." : line;
            }
        }
        return t.getClass().getSimpleName();
    }

    /**
     * The one message for running out of memory during a command (exit 1): what failed, and the settings that
     * lower the peak. Checkpoints are written to a temporary sibling and renamed, so every checkpoint saved before
     * the failure is intact.
     */
    public static PaftException outOfMemory(Throwable t) {
        String line = engineLine(t);
        return new PaftException(
                PaftException.INTERNAL,
                "out of " + (line.contains("CUDA") ? "GPU memory" : "memory")
                        + " (" + line
                        + "). Lower training.batch_size (raise training.grad_accum to keep the effective batch),"
                        + " data.max_length or training.loss_chunk_size, keep training.gradient_checkpointing on, or set model.dtype: bf16;"
                        + " --dry-run prints the estimated peak. Checkpoints already saved are intact: continue with --resume.",
                t);
    }

    /** Loading the weights failed for lack of memory (exit 1). */
    public static PaftException loadFailed(Device device, Path dir, long bytes, WeightStorage storage, Throwable t) {
        return new PaftException(
                PaftException.INTERNAL,
                dir + ": out of memory while loading the model's weights ("
                        + gib(bytes) + " as " + storage.configName() + " on " + name(device) + "; " + engineLine(t)
                        + "): "
                        + (storage == WeightStorage.F32 ? "set model.dtype: bf16 (2 bytes per weight), or " : "")
                        + "free memory on " + name(device),
                t);
    }
}
