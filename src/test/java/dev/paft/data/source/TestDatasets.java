package dev.paft.data.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.ArrowWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Dataset files for tests, written by writers independent of paft's reading code: Parquet by
 * DuckDB's {@code COPY ... TO} (its JSON reader turns JSON Lines written here into typed columns:
 * strings, integers, lists of structs), Arrow IPC by Arrow Java's stream and file writers with
 * the schema and files {@code datasets}' {@code save_to_disk} writes (string columns, and message
 * lists as {@code list<struct<content: string, role: string>>}).
 */
public final class TestDatasets {
    static final ObjectMapper JSON = new ObjectMapper();

    private TestDatasets() {}

    public static List<JsonNode> records(String... json) {
        List<JsonNode> out = new ArrayList<>();
        for (String j : json) {
            try {
                out.add(JSON.readTree(j));
            } catch (IOException e) {
                throw new IllegalArgumentException(j, e);
            }
        }
        return out;
    }

    public static Path jsonl(Path file, List<JsonNode> records) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (JsonNode r : records) {
            sb.append(JSON.writeValueAsString(r)).append('\n');
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        return Files.writeString(file, sb.toString());
    }

    /** Runs DuckDB SQL (in memory). */
    public static void duckdb(String sql) {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
                Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql, e);
        }
    }

    /** The records as a Parquet file written by DuckDB (from JSON Lines, column types inferred by DuckDB). */
    public static Path parquet(Path file, List<JsonNode> records, String compression) throws IOException {
        Path src = Files.createTempFile("records", ".jsonl");
        try {
            jsonl(src, records);
            Files.createDirectories(file.toAbsolutePath().getParent());
            duckdb("COPY (SELECT * FROM read_json('" + src + "', format = 'newline_delimited')) TO '"
                    + file.toAbsolutePath() + "' (FORMAT parquet, COMPRESSION " + compression + ")");
            return file;
        } finally {
            Files.deleteIfExists(src);
        }
    }

    /**
     * Records as an Arrow IPC stream (or file, {@code fileFormat}) by Arrow Java: each column a
     * string, an int64 or a message list, by the first record's value; a "huggingface" schema
     * metadata entry as {@code datasets} writes.
     */
    public static Path arrow(Path file, List<JsonNode> records, boolean fileFormat) throws IOException {
        List<String> names = new ArrayList<>();
        records.get(0).fieldNames().forEachRemaining(names::add);
        List<Field> fields = new ArrayList<>();
        for (String n : names) {
            JsonNode v = records.get(0).get(n);
            if (v.isArray()) {
                Field item = new Field(
                        "item",
                        FieldType.nullable(ArrowType.Struct.INSTANCE),
                        List.of(
                                Field.nullable("content", ArrowType.Utf8.INSTANCE),
                                Field.nullable("role", ArrowType.Utf8.INSTANCE)));
                fields.add(new Field(n, FieldType.nullable(ArrowType.List.INSTANCE), List.of(item)));
            } else if (v.isIntegralNumber()) {
                fields.add(Field.nullable(n, new ArrowType.Int(64, true)));
            } else {
                fields.add(Field.nullable(n, ArrowType.Utf8.INSTANCE));
            }
        }
        Schema schema = new Schema(fields, Map.of("huggingface", "{\"info\": {\"features\": {}}}"));
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (BufferAllocator alloc = new RootAllocator();
                VectorSchemaRoot root = VectorSchemaRoot.create(schema, alloc);
                OutputStream os = fileFormat ? null : Files.newOutputStream(file);
                FileChannel ch = fileFormat
                        ? FileChannel.open(
                                file,
                                StandardOpenOption.CREATE,
                                StandardOpenOption.WRITE,
                                StandardOpenOption.TRUNCATE_EXISTING)
                        : null;
                ArrowWriter w =
                        fileFormat ? new ArrowFileWriter(root, null, ch) : new ArrowStreamWriter(root, null, os)) {
            w.start();
            int batch = 2; // several record batches, as datasets writes 1000 rows each
            for (int start = 0; start < records.size(); start += batch) {
                int rows = Math.min(batch, records.size() - start);
                root.allocateNew();
                for (FieldVector v : root.getFieldVectors()) {
                    for (int i = 0; i < rows; i++) {
                        set(v, i, records.get(start + i).get(v.getName()));
                    }
                    v.setValueCount(rows);
                }
                root.setRowCount(rows);
                w.writeBatch();
            }
            w.end();
        }
        return file;
    }

    private static void set(FieldVector v, int i, JsonNode value) {
        if (value == null || value.isNull()) {
            v.setNull(i);
        } else if (v instanceof VarCharVector s) {
            s.setSafe(i, value.asText().getBytes(StandardCharsets.UTF_8));
        } else if (v instanceof BigIntVector b) {
            b.setSafe(i, value.asLong());
        } else if (v instanceof ListVector l) {
            StructVector struct = (StructVector) l.getDataVector();
            VarCharVector content = (VarCharVector) struct.getChild("content");
            VarCharVector role = (VarCharVector) struct.getChild("role");
            int offset = l.startNewValue(i);
            for (int k = 0; k < value.size(); k++) {
                struct.setIndexDefined(offset + k);
                content.setSafe(offset + k, value.get(k).get("content").asText().getBytes(StandardCharsets.UTF_8));
                role.setSafe(offset + k, value.get(k).get("role").asText().getBytes(StandardCharsets.UTF_8));
            }
            l.endValue(i, value.size());
            struct.setValueCount(offset + value.size());
            content.setValueCount(offset + value.size());
            role.setValueCount(offset + value.size());
        } else {
            throw new IllegalArgumentException(v.getClass().getName());
        }
    }

    /** A directory as {@code Dataset.save_to_disk} writes it, the records split over {@code shards} Arrow files. */
    public static Path saveToDisk(Path dir, String split, List<JsonNode> records, int shards) throws IOException {
        Files.createDirectories(dir);
        StringBuilder dataFiles = new StringBuilder();
        int per = (records.size() + shards - 1) / shards;
        for (int s = 0; s < shards; s++) {
            String name = String.format("data-%05d-of-%05d.arrow", s, shards);
            arrow(dir.resolve(name), records.subList(s * per, Math.min(records.size(), (s + 1) * per)), false);
            dataFiles
                    .append(s == 0 ? "" : ", ")
                    .append("{\"filename\": \"")
                    .append(name)
                    .append("\"}");
        }
        Files.writeString(
                dir.resolve("state.json"),
                "{\"_data_files\": [" + dataFiles + "], \"_fingerprint\": \"0123456789abcdef\", "
                        + "\"_format_columns\": null, \"_format_kwargs\": {}, \"_format_type\": null, \"_output_all_columns\": false, "
                        + "\"_split\": \"" + split + "\"}");
        Files.writeString(
                dir.resolve("dataset_info.json"), "{\"citation\": \"\", \"description\": \"\", \"features\": {}}");
        return dir;
    }

    /** A DatasetDict directory: {@code dataset_dict.json} and one save_to_disk directory a split. */
    public static Path saveToDiskDict(Path dir, Map<String, List<JsonNode>> splits) throws IOException {
        Files.createDirectories(dir);
        for (Map.Entry<String, List<JsonNode>> e : splits.entrySet()) {
            saveToDisk(dir.resolve(e.getKey()), e.getKey(), e.getValue(), 1);
        }
        Files.writeString(
                dir.resolve("dataset_dict.json"),
                "{\"splits\": " + JSON.writeValueAsString(List.copyOf(splits.keySet())) + "}");
        return dir;
    }
}
