package dev.paft.data.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.util.Text;

/**
 * Arrow IPC files read with Apache Arrow Java: the stream format that Hugging Face
 * {@code datasets} writes ({@code save_to_disk}'s {@code data-00000-of-0000N.arrow}, its cache
 * files) and the random-access file format ({@code .feather} v2, {@code pyarrow.ipc.new_file}),
 * told apart by the file's magic bytes. One record batch is in memory at a time; each row
 * becomes a JSON object (strings, numbers, booleans, lists and structs as JSON; binary as base64),
 * located {@code file#row N}.
 */
final class ArrowSource implements RecordSource {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final byte[] FILE_MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);

    static {
        if (System.getProperty("arrow.allocation.manager.type") == null) {
            System.setProperty("arrow.allocation.manager.type", "Unsafe"); // the one bundled (no Netty)
        }
    }

    private final Path file;
    private final BufferAllocator allocator;
    private final ArrowReader reader;
    private VectorSchemaRoot root;
    private int inBatch;
    private long row;

    ArrowSource(Path file) {
        this.file = file;
        BufferAllocator a = null;
        ArrowReader r = null;
        try {
            a = new RootAllocator();
            if (hasFileMagic(file)) {
                r = new ArrowFileReader(FileChannel.open(file, StandardOpenOption.READ), a);
            } else {
                InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
                r = new ArrowStreamReader(in, a);
            }
            root = r.getVectorSchemaRoot(); // reads the schema: fails fast on a file that is not Arrow
        } catch (IOException | RuntimeException e) {
            closeQuietly(r, a);
            throw failure(e, "");
        } catch (ExceptionInInitializerError | NoClassDefFoundError e) {
            closeQuietly(r, a);
            throw openFlagMissing(e);
        }
        this.allocator = a;
        this.reader = r;
    }

    private static boolean hasFileMagic(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return Arrays.equals(in.readNBytes(FILE_MAGIC.length), FILE_MAGIC);
        }
    }

    @Override
    public Row next() {
        try {
            while (inBatch >= root.getRowCount()) {
                if (!reader.loadNextBatch()) {
                    return null;
                }
                inBatch = 0;
            }
        } catch (IOException | RuntimeException e) {
            throw failure(e, "#row " + row);
        } catch (ExceptionInInitializerError | NoClassDefFoundError e) {
            throw openFlagMissing(e);
        }
        ObjectNode out = NODES.objectNode();
        for (FieldVector v : root.getFieldVectors()) {
            out.set(v.getName(), json(v.getObject(inBatch)));
        }
        inBatch++;
        return Row.of(file + "#row " + row++, out);
    }

    private PaftException failure(Throwable e, String where) {
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            String m = String.valueOf(c.getMessage());
            if (m.contains("DirectByteBuffer") || m.contains("add-opens")) {
                return openFlagMissing(e); // java.nio not opened to Arrow's memory module
            }
        }
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return PaftException.badInput(file + where + ": cannot read Arrow IPC data: " + why, e);
    }

    /** Arrow's memory module needs java.nio opened to it (scripts/paft's jar manifest does that). */
    private PaftException openFlagMissing(Throwable e) {
        return new PaftException(
                PaftException.INTERNAL,
                file + ": reading Arrow files needs the JVM option "
                        + "--add-opens=java.base/java.nio=ALL-UNNAMED (the paft jar sets it when run with java -jar)",
                e);
    }

    /** An Arrow value (as {@code FieldVector.getObject} gives it) as JSON. */
    static JsonNode json(Object o) {
        if (o == null) {
            return NODES.nullNode();
        }
        if (o instanceof Text || o instanceof CharSequence) {
            return NODES.textNode(o.toString());
        }
        if (o instanceof Boolean b) {
            return NODES.booleanNode(b);
        }
        if (o instanceof Integer || o instanceof Short || o instanceof Byte) {
            return NODES.numberNode(((Number) o).intValue());
        }
        if (o instanceof Long l) {
            return l == (int) (long) l
                    ? NODES.numberNode((int) (long) l)
                    : NODES.numberNode(l); // as a JSON parser reads it
        }
        if (o instanceof Float f) {
            return NODES.numberNode(f);
        }
        if (o instanceof Double d) {
            return NODES.numberNode(d);
        }
        if (o instanceof BigDecimal d) {
            return NODES.numberNode(d);
        }
        if (o instanceof BigInteger i) {
            return NODES.numberNode(i);
        }
        if (o instanceof byte[] b) {
            return NODES.binaryNode(b);
        }
        if (o instanceof Map<?, ?> m) {
            ObjectNode n = NODES.objectNode();
            m.forEach((k, v) -> n.set(String.valueOf(k), json(v)));
            return n;
        }
        if (o instanceof List<?> l) {
            ArrayNode a = NODES.arrayNode(l.size());
            l.forEach(v -> a.add(json(v)));
            return a;
        }
        return NODES.textNode(o.toString()); // dates, times, durations, intervals
    }

    @Override
    public void close() {
        closeQuietly(reader, allocator);
    }

    private static void closeQuietly(ArrowReader r, BufferAllocator a) {
        try {
            if (r != null) {
                r.close();
            }
        } catch (IOException | RuntimeException ignored) {
            // closing
        }
        try {
            if (a != null) {
                a.close();
            }
        } catch (RuntimeException ignored) {
            // a leak report on close is not the user's problem
        }
    }
}
