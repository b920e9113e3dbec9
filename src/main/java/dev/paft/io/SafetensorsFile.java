package dev.paft.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for lazy, memory-mapped reads of one tensor at a time.
 *
 * <p>Layout: u64 little-endian header length N, N bytes of JSON header
 * ({@code name -> {dtype, shape, data_offsets}} plus an optional {@code __metadata__} string map),
 * then the data section. The header is validated before any tensor is read: length within the
 * file and below {@link #MAX_HEADER_BYTES}, well-formed JSON, known dtypes, byte spans equal to
 * shape x dtype size, offsets inside the data and tiling it without gaps or overlap. Any violation
 * is a {@link PaftException#badInput} (exit 3) naming the file and tensor.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest header accepted (the reference implementation's bound). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    // A header string (a __metadata__ value) may be as long as the header itself: Jackson's default 20 M-char
    // cap would call a valid file with a 50 MB metadata string corrupt. The header length bound above still
    // refuses absurd sizes before anything is allocated.
    private static final ObjectMapper JSON = Mappers.header(MAX_HEADER_BYTES);

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(
            Path path,
            FileChannel channel,
            long dataStart,
            Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates a safetensors file; exit 3 naming the file when it is malformed. */
    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw PaftException.badInput(path + ": cannot open safetensors file: " + e.getMessage(), e);
        }
        try {
            long fileSize = ch.size();
            if (fileSize < 8) {
                throw bad(path, "file is " + fileSize + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > fileSize - 8) {
                throw bad(
                        path,
                        "declared header length " + Long.toUnsignedString(headerLen) + " is outside the file ("
                                + fileSize + " bytes) or above the " + MAX_HEADER_BYTES + "-byte bound");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            long dataStart = 8 + headerLen;
            Parsed parsed = parseHeader(path, header.array(), fileSize - dataStart);
            return new SafetensorsFile(path, ch, dataStart, parsed.tensors, parsed.metadata);
        } catch (IOException e) {
            closeQuietly(ch);
            throw PaftException.badInput(path + ": read failed: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private record Parsed(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private static Parsed parseHeader(Path path, byte[] header, long dataLen) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            throw bad(path, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw bad(path, "header is not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw bad(path, "header is not a JSON object");
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw bad(path, "__metadata__ must be a map of strings");
                }
                v.fields().forEachRemaining(m -> {
                    if (!m.getValue().isTextual()) {
                        throw bad(path, "__metadata__." + m.getKey() + " must be a string");
                    }
                    metadata.put(m.getKey(), m.getValue().asText());
                });
                continue;
            }
            tensors.put(name, parseEntry(path, name, v, dataLen));
        }
        // Offsets must tile the data section: sorted by begin, each starts where the previous ended.
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        for (TensorInfo t : sorted) {
            if (t.begin() < expected) {
                throw bad(
                        path,
                        "tensor '" + t.name() + "' data_offsets [" + t.begin() + ", " + t.end()
                                + "] overlap the previous tensor (which ends at " + expected + ")");
            }
            if (t.begin() > expected) {
                throw bad(
                        path,
                        "tensor '" + t.name() + "' starts at " + t.begin() + " leaving a gap after byte " + expected);
            }
            expected = t.end();
        }
        if (expected != dataLen) {
            throw bad(
                    path,
                    "tensors cover " + expected + " bytes of a " + dataLen
                            + "-byte data section (truncated or padded file)");
        }
        return new Parsed(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode v, long dataLen) {
        if (!v.isObject()) {
            throw bad(path, "tensor '" + name + "': entry is not an object");
        }
        JsonNode dt = v.get("dtype");
        JsonNode shapeNode = v.get("shape");
        JsonNode offs = v.get("data_offsets");
        if (dt == null
                || !dt.isTextual()
                || shapeNode == null
                || !shapeNode.isArray()
                || offs == null
                || !offs.isArray()) {
            throw bad(path, "tensor '" + name + "': needs string 'dtype', array 'shape' and array 'data_offsets'");
        }
        DType dtype = DType.parse(dt.asText());
        if (dtype == null) {
            throw bad(path, "tensor '" + name + "': unknown dtype '" + dt.asText() + "'");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw bad(
                        path, "tensor '" + name + "': shape " + shapeNode + " is not a list of non-negative integers");
            }
            shape[i] = d.asLong();
        }
        if (offs.size() != 2
                || !offs.get(0).isIntegralNumber()
                || !offs.get(1).isIntegralNumber()
                || !offs.get(0).canConvertToLong()
                || !offs.get(1).canConvertToLong()) {
            throw bad(path, "tensor '" + name + "': data_offsets " + offs + " must be two integers");
        }
        long begin = offs.get(0).asLong();
        long end = offs.get(1).asLong();
        if (begin < 0 || end < begin || end > dataLen) {
            throw bad(
                    path,
                    "tensor '" + name + "': data_offsets [" + begin + ", " + end + "] out of range for a " + dataLen
                            + "-byte data section");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(TensorInfo.numel(shape), dtype.size());
        } catch (ArithmeticException e) {
            throw bad(path, "tensor '" + name + "': shape " + shapeNode + " overflows");
        }
        if (bytes != end - begin) {
            throw bad(
                    path,
                    "tensor '" + name + "': shape " + shapeNode + " x " + dtype + " needs " + bytes
                            + " bytes but data_offsets span " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    public Path path() {
        return path;
    }

    /** Tensor entries in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw PaftException.badInput(path + ": no tensor named '" + name + "'");
        }
        return t;
    }

    /**
     * The raw little-endian bytes of one tensor, memory-mapped (no copy). Valid while this file is
     * open and the buffer is reachable. Tensors over 2 GiB cannot be mapped in one buffer: use
     * {@link #readFloats}.
     */
    public ByteBuffer bytes(String name) {
        TensorInfo t = info(name);
        if (t.byteSize() > Integer.MAX_VALUE) {
            throw PaftException.badInput(path + ": tensor '" + name + "' is over 2 GiB; read it with readFloats");
        }
        try {
            MappedByteBuffer m = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), t.byteSize());
            return m.order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw PaftException.badInput(path + ": cannot map tensor '" + name + "': " + e.getMessage(), e);
        }
    }

    /** One tensor converted to float32 (BF16/F16 widened exactly). */
    public float[] readFloats(String name) {
        TensorInfo t = info(name);
        long n = t.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw PaftException.badInput(
                    path + ": tensor '" + name + "' has " + n + " elements, too many for one array");
        }
        float[] out = new float[(int) n];
        readFloats(name, out, null);
        return out;
    }

    /** Per-thread staging buffer of {@link #readFloats(String, float[], float[])}: positional reads, no mapping. */
    private static final ThreadLocal<ByteBuffer> STAGING =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(4 << 20).order(ByteOrder.LITTLE_ENDIAN));

    /**
     * One tensor converted to float32 into {@code dst[0..numel)} (a preallocated array, e.g. from a
     * pool), minus {@code minus[j]} element-wise when {@code minus} is not null (a task vector in
     * one pass). Reads with positional reads into a per-thread direct buffer: no per-tensor
     * mappings or garbage.
     */
    public void readFloats(String name, float[] dst, float[] minus) {
        TensorInfo t = info(name);
        long n = t.numel();
        if (dst.length < n || (minus != null && minus.length < n)) {
            throw new IllegalArgumentException("tensor '" + name + "': " + n + " elements do not fit arrays of "
                    + dst.length + (minus == null ? "" : " / " + minus.length));
        }
        int size = t.dtype().size();
        ByteBuffer buf = STAGING.get();
        int perChunk = buf.capacity() / size;
        for (long done = 0; done < n; done += perChunk) {
            int count = (int) Math.min(perChunk, n - done);
            long off = dataStart + t.begin() + done * size;
            buf.clear().limit(count * size);
            try {
                readFully(channel, buf, off);
            } catch (IOException e) {
                throw PaftException.badInput(path + ": cannot read tensor '" + name + "': " + e.getMessage(), e);
            }
            buf.flip();
            t.dtype().toFloats(buf, dst, (int) done, count, minus);
        }
    }

    /**
     * Elements {@code [from, from + count)} of one F32 / F16 / BF16 tensor converted into {@code storage}, written
     * at {@code dst}'s position (which advances). Positional reads through a small per-thread buffer: no mapping,
     * so the process keeps no second copy of the file (the page cache holds it, not the RSS).
     *
     * @return the element index (within the tensor) of the first finite value beyond half's range, or -1
     */
    public long readInto(String name, long from, long count, WeightStorage storage, ByteBuffer dst) {
        TensorInfo t = info(name);
        if (from < 0 || count < 0 || from + count > t.numel()) {
            throw new IllegalArgumentException(
                    "tensor '" + name + "': elements [" + from + ", " + (from + count) + ") outside its " + t.numel());
        }
        int size = t.dtype().size();
        ByteBuffer buf = STAGING.get();
        int perChunk = buf.capacity() / size;
        long firstBad = -1;
        for (long done = 0; done < count; done += perChunk) {
            int n = (int) Math.min(perChunk, count - done);
            buf.clear().limit(n * size);
            try {
                readFully(channel, buf, dataStart + t.begin() + (from + done) * size);
            } catch (IOException e) {
                throw PaftException.badInput(path + ": cannot read tensor '" + name + "': " + e.getMessage(), e);
            }
            buf.flip();
            long bad = storage.convert(buf, t.dtype(), n, dst);
            if (bad >= 0 && firstBad < 0) {
                firstBad = from + done + bad;
            }
        }
        return firstBad;
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    private static PaftException bad(Path path, String what) {
        return PaftException.badInput(path + ": corrupt safetensors file: " + what);
    }

    /** True if the path looks like a safetensors file (exists and named *.safetensors). */
    public static boolean isSafetensors(Path p) {
        return Files.isRegularFile(p) && p.getFileName().toString().endsWith(".safetensors");
    }
}
