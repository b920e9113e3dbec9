package dev.paft.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;

/**
 * Streams one safetensors file: the header is written from the specs up front, then each
 * tensor's data in spec order, one at a time. The file is written as {@code name.tmp} and renamed
 * into place by {@link #close()} only when every tensor was written; {@link #abort()} deletes it.
 *
 * <p>The header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
 */
public final class SafetensorsWriter implements AutoCloseable {
    private static final ObjectMapper JSON = Mappers.json();

    /**
     * Whether {@link #close()} forces the data to disk before the rename (default true); tests
     * may set the system property {@code paft.io.fsync=false} to skip the slow fsync.
     */
    static final boolean FSYNC = !"false".equals(System.getProperty("paft.io.fsync"));

    private final Path target;
    private final Path tmp;
    private final List<TensorSpec> specs;
    private final FileChannel out;
    private int next;
    private boolean done;
    /** Reused direct staging buffer of {@link #writeFloats} (a heap buffer costs one more copy per write). */
    private ByteBuffer staging;
    /** Bytes written since the last background flush was started. */
    private long unflushed;
    /** The background flush in progress, if any. */
    private CompletableFuture<Void> flushing;

    /** Starts a background {@code force(false)} after this many bytes, so the final fsync has little left. */
    static final long FLUSH_EVERY = 256L << 20;

    public SafetensorsWriter(Path target, List<TensorSpec> specs, Map<String, String> metadata) {
        this.target = target;
        this.tmp = target.resolveSibling(target.getFileName() + ".tmp");
        this.specs = List.copyOf(specs);
        Set<String> seen = new HashSet<>();
        for (TensorSpec s : this.specs) {
            if (s.name().equals("__metadata__") || !seen.add(s.name())) {
                throw new IllegalArgumentException(target + ": tensor name '" + s.name() + "' is reserved or repeated");
            }
        }
        byte[] header = header(this.specs, metadata); // before opening: a bad spec leaves no file behind
        try {
            this.out = FileChannel.open(
                    tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            ByteBuffer b = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(header.length).put(header).flip();
            writeFully(b);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tmp, e);
        }
    }

    static byte[] header(List<TensorSpec> specs, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = root.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (TensorSpec s : specs) {
            ObjectNode t = root.putObject(s.name());
            t.put("dtype", s.dtype().name());
            ArrayNode shape = t.putArray("shape");
            for (long d : s.shape()) {
                shape.add(d);
            }
            long end = offset + s.byteSize();
            t.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            out[i] = ' ';
        }
        return out;
    }

    /** The spec of the next tensor to write, or null when all are written. */
    public TensorSpec nextSpec() {
        return next < specs.size() ? specs.get(next) : null;
    }

    /** Writes the next tensor's raw little-endian bytes; the name must match the spec order. */
    public void write(String name, ByteBuffer data) {
        TensorSpec s = expect(name);
        ByteBuffer d = data.duplicate();
        if (d.remaining() != s.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + d.remaining() + " bytes given, "
                    + s.byteSize() + " expected for " + s.dtype() + " " + Arrays.toString(s.shape()));
        }
        try {
            writeFully(d);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tmp, e);
        }
        next++;
    }

    /**
     * Writes the next tensor from float32 values, converted to its spec dtype (BF16/F16 rounded to
     * nearest even). Returns whether every value was finite (no NaN or infinity): for BF16 the
     * conversion finds it; other dtypes take a pass of their own.
     */
    public boolean writeFloats(String name, float[] values) {
        TensorSpec s = expect(name);
        if (values.length != s.numel()) {
            throw new IllegalArgumentException(
                    "tensor '" + name + "': " + values.length + " values, " + s.numel() + " expected");
        }
        // A reused direct buffer of at most 4 Mi elements, sized down for small tensors; a fresh
        // buffer per call made small writes slow (each allocation zeroes it).
        int size = s.dtype().size();
        int chunk = Math.max(1, Math.min(values.length, (1 << 23) / size));
        if (staging == null || staging.capacity() < chunk * size) {
            staging = ByteBuffer.allocateDirect(Math.max(chunk * size, staging == null ? 0 : staging.capacity()))
                    .order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer buf = staging;
        boolean finite = true;
        try {
            for (int off = 0; off < values.length; off += chunk) {
                int n = Math.min(chunk, values.length - off);
                buf.clear();
                if (s.dtype() == DType.BF16) {
                    finite &= DType.narrowBf16(values, off, n, buf);
                } else {
                    s.dtype().fromFloats(values, off, n, buf);
                }
                buf.flip();
                writeFully(buf);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tmp, e);
        }
        next++;
        if (s.dtype() != DType.BF16) {
            for (float v : values) {
                finite &= Float.isFinite(v);
            }
        }
        return finite;
    }

    private TensorSpec expect(String name) {
        if (next >= specs.size() || !specs.get(next).name().equals(name)) {
            throw new IllegalStateException("tensor '" + name + "' written out of order; expected "
                    + (next < specs.size() ? "'" + specs.get(next).name() + "'" : "no more tensors"));
        }
        return specs.get(next);
    }

    private void writeFully(ByteBuffer b) throws IOException {
        unflushed += b.remaining();
        while (b.hasRemaining()) {
            out.write(b);
        }
        if (FSYNC && unflushed >= FLUSH_EVERY && (flushing == null || flushing.isDone())) {
            // write back what is written so far while the caller goes on; close() still fsyncs
            unflushed = 0;
            flushing = CompletableFuture.runAsync(
                    () -> {
                        try {
                            out.force(false);
                        } catch (IOException ignored) {
                            // close() forces again and reports a failure
                        }
                    },
                    FLUSHER);
        }
    }

    private static final Executor FLUSHER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "paft-safetensors-flush");
        t.setDaemon(true);
        return t;
    });

    private void awaitFlush() {
        if (flushing != null) {
            try {
                flushing.join();
            } catch (RuntimeException ignored) {
                // the final force reports failures
            }
        }
    }

    /** Deletes the partial file. */
    public void abort() {
        done = true;
        awaitFlush();
        try {
            out.close();
            Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
            // best effort
        }
    }

    /** Completes the file (fsync, rename into place); fails if tensors are missing. */
    @Override
    public void close() {
        if (done) {
            return;
        }
        done = true;
        if (next != specs.size()) {
            abort();
            throw new IllegalStateException(
                    target + ": only " + next + " of " + specs.size() + " tensors were written");
        }
        awaitFlush();
        try {
            if (FSYNC) {
                out.force(true);
            }
            out.close();
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot finish " + target, e);
        }
    }

    /** Writes a whole small file of float tensors at once (tests, adapters). */
    public static void writeAll(
            Path target, Map<String, FloatTensor> tensors, DType dtype, Map<String, String> metadata) {
        List<TensorSpec> specs = tensors.entrySet().stream()
                .map(e -> new TensorSpec(e.getKey(), dtype, e.getValue().shape()))
                .toList();
        try (SafetensorsWriter w = new SafetensorsWriter(target, specs, metadata)) {
            tensors.forEach((k, v) -> w.writeFloats(k, v.data()));
        } catch (RuntimeException e) {
            throw e instanceof PaftException ? e : new PaftException(PaftException.INTERNAL, e.getMessage(), e);
        }
    }
}
