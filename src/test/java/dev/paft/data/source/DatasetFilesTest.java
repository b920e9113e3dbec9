package dev.paft.data.source;

import static dev.paft.data.source.TestDatasets.records;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every supported file type and directory layout, on files written by DuckDB and Arrow Java (not paft). */
class DatasetFilesTest {
    @TempDir
    Path tmp;

    static final List<JsonNode> CHATS = records(
            "{\"id\": 0, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello ünïcode ✓\"}]}",
            "{\"id\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"content\": \"4\"}]}",
            "{\"id\": 2, \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Sky?\"}, {\"role\": \"assistant\", \"content\": \"Blue.\"}]}");

    /** Rows and their locations. */
    record Read(List<JsonNode> values, List<String> locations) {}

    static Read read(Path path) {
        List<JsonNode> values = new ArrayList<>();
        List<String> locs = new ArrayList<>();
        try (RecordSource s = DatasetFiles.openAll(path)) {
            RecordSource.Row r;
            while ((r = s.next()) != null) {
                assertEquals(null, r.error(), r.location());
                values.add(r.value());
                locs.add(r.location());
            }
        }
        return new Read(values, locs);
    }

    /** The fields of each message as a plain role/content list, for comparing rows of any writer. */
    static List<JsonNode> normalizeKeyOrder(List<JsonNode> rows) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode r : rows) {
            out.add(RecordSchema.of(RecordSchema.Task.SFT).normalize(r));
        }
        return out;
    }

    static PaftException fails(int code, Runnable r) {
        PaftException e = assertThrows(PaftException.class, r::run);
        assertEquals(code, e.exitCode(), e.getMessage());
        return e;
    }

    @Test
    void jsonLinesJsonArrayGzipAndJsonWrittenAsLines() throws IOException {
        Path jsonl = TestDatasets.jsonl(tmp.resolve("a.jsonl"), CHATS);
        Path array = Files.writeString(
                tmp.resolve("a.json"),
                "[\n"
                        + String.join(
                                ",\n", CHATS.stream().map(JsonNode::toString).toList()) + "\n]\n");
        Path gz = tmp.resolve("a.jsonl.gz");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
            o.write(Files.readAllBytes(jsonl));
        }
        Path linesAsJson = Files.copy(jsonl, tmp.resolve("lines.json")); // datasets' to_json writes lines by default
        for (Path p : List.of(jsonl, array, gz, linesAsJson)) {
            assertEquals(CHATS, read(p).values(), p.toString());
        }
        assertEquals(
                List.of(jsonl + ":1", jsonl + ":2", jsonl + ":3"), read(jsonl).locations());
        assertEquals(
                List.of(array + ":2 (element 0)", array + ":3 (element 1)", array + ":4 (element 2)"),
                read(array).locations());
    }

    @Test
    void parquetWrittenByDuckDb() throws IOException {
        for (String codec : List.of("snappy", "zstd", "gzip", "uncompressed")) {
            Path p = TestDatasets.parquet(tmp.resolve("chats-" + codec + ".parquet"), CHATS, codec);
            Read r = read(p);
            assertEquals(CHATS, normalizeKeyOrder(r.values()), codec);
            assertEquals(0, r.values().get(0).get("id").asInt());
            assertEquals(p + "#row 2", r.locations().get(2));
        }
    }

    /** CSV as spreadsheets and pandas write it: a header row, a quoted field with a comma, a quote and a newline. */
    @Test
    void csvWithQuotedMultilineFields() throws IOException {
        Path csv = Files.writeString(
                tmp.resolve("alpaca.csv"),
                "instruction,input,output\n"
                        + "Add.,2 and 3,5\n"
                        + "\"Say \"\"hi\"\", politely.\",,\"Hello,\nfriend.\"\n");
        Read r = read(csv);
        assertEquals(
                records(
                        "{\"instruction\": \"Add.\", \"input\": \"2 and 3\", \"output\": \"5\"}",
                        "{\"instruction\": \"Say \\\"hi\\\", politely.\", \"input\": null, \"output\": \"Hello,\\nfriend.\"}"),
                r.values());
        assertEquals(csv + "#row 1", r.locations().get(1));
    }

    /** Files written by pyarrow (parquet-cpp) and Impala, committed from apache/parquet-testing. */
    @Test
    void parquetFromOtherWriters() {
        Path dir = Path.of("src/test/resources/data/parquet-testing");
        assertEquals(
                records(
                        "{\"int64_list\": [1, 2, 3], \"utf8_list\": [\"abc\", \"efg\", \"hij\"]}",
                        "{\"int64_list\": [null, 1], \"utf8_list\": null}",
                        "{\"int64_list\": [4], \"utf8_list\": [\"efg\", null, \"hij\", \"xyz\"]}"),
                read(dir.resolve("list_columns.parquet")).values());
        List<JsonNode> rows = read(dir.resolve("alltypes_plain.parquet")).values();
        assertEquals(
                List.of(4, 5, 6, 7, 2, 3, 0, 1),
                rows.stream().map(r -> r.get("id").asInt()).toList());
        assertEquals(
                List.of("0", "1", "0", "1", "0", "1", "0", "1"),
                rows.stream().map(r -> r.get("string_col").asText()).toList());
        assertEquals("03/01/09", rows.get(0).get("date_string_col").asText());
        assertEquals(10.1, rows.get(1).get("double_col").asDouble());
    }

    @Test
    void arrowStreamAndFileWrittenByArrowJava() throws IOException {
        Path stream = TestDatasets.arrow(tmp.resolve("chats.arrow"), CHATS, false);
        Path file = TestDatasets.arrow(tmp.resolve("chats.feather"), CHATS, true);
        for (Path p : List.of(stream, file)) {
            Read r = read(p);
            assertEquals(CHATS, normalizeKeyOrder(r.values()), p.toString());
            assertEquals(List.of(p + "#row 0", p + "#row 1", p + "#row 2"), r.locations());
        }
    }

    /** Without java.nio opened to Arrow (a java -cp run), the error says which JVM option to give. */
    @Test
    void arrowWithoutAddOpensSaysWhichFlag() throws Exception {
        Path stream = TestDatasets.arrow(tmp.resolve("flag.arrow"), CHATS, false);
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (boolean flag : new boolean[] {false, true}) {
            List<String> cmd =
                    new ArrayList<>(List.of(javaBin, "-Xshare:auto", "-cp", System.getProperty("java.class.path")));
            if (flag) {
                cmd.add("--add-opens=java.base/java.nio=ALL-UNNAMED");
            }
            cmd.addAll(List.of(ArrowOpensProbe.class.getName(), stream.toString()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            assertTrue(
                    flag
                            ? out.contains("rows 3")
                            : out.contains(
                                    "exit 1: " + stream
                                            + ": reading Arrow files needs the JVM option --add-opens=java.base/java.nio=ALL-UNNAMED"),
                    out);
        }
    }

    @Test
    void saveToDiskDatasetAndDatasetDict() throws IOException {
        Path ds = TestDatasets.saveToDisk(tmp.resolve("ds"), "train", CHATS, 2);
        assertEquals(
                List.of(ds.resolve("data-00000-of-00002.arrow"), ds.resolve("data-00001-of-00002.arrow")),
                DatasetFiles.files(ds));
        assertEquals(CHATS, normalizeKeyOrder(read(ds).values()));
        assertEquals(ds, DatasetFiles.select(ds, null, DatasetFiles.TRAIN_SPLITS, "data.split"));

        Map<String, List<JsonNode>> splits = new LinkedHashMap<>();
        splits.put("train", CHATS.subList(0, 2));
        splits.put("test", CHATS.subList(2, 3));
        Path dict = TestDatasets.saveToDiskDict(tmp.resolve("dict"), splits);
        Path train = DatasetFiles.select(dict, null, DatasetFiles.TRAIN_SPLITS, "data.split");
        Path test = DatasetFiles.select(dict, null, DatasetFiles.EVAL_SPLITS, "data.eval_split");
        assertEquals(dict.resolve("train"), train);
        assertEquals(CHATS.subList(0, 2), normalizeKeyOrder(read(train).values()));
        assertEquals(CHATS.subList(2, 3), normalizeKeyOrder(read(test).values()));
        assertEquals(test, DatasetFiles.select(dict, "test", DatasetFiles.TRAIN_SPLITS, "data.split"));
        PaftException e =
                fails(2, () -> DatasetFiles.select(dict, "validation", DatasetFiles.EVAL_SPLITS, "data.eval_split"));
        assertEquals(dict + ": no split 'validation' (data.eval_split); it has: train, test", e.getMessage());
        e = fails(2, () -> DatasetFiles.files(dict)); // a dict is not one dataset
        assertTrue(e.getMessage().contains("holds the splits train, test"), e.getMessage());
    }

    @Test
    void hubParquetShardsSplitByFileName() throws IOException {
        Path hub = tmp.resolve("hub");
        TestDatasets.parquet(hub.resolve("data/train-00000-of-00002.parquet"), CHATS.subList(0, 1), "snappy");
        TestDatasets.parquet(hub.resolve("data/train-00001-of-00002.parquet"), CHATS.subList(1, 2), "snappy");
        TestDatasets.parquet(hub.resolve("data/test-00000-of-00001.parquet"), CHATS.subList(2, 3), "snappy");
        Files.writeString(hub.resolve("README.md"), "---\nlicense: mit\n---\n");
        Files.createDirectories(hub.resolve(".cache/huggingface"));
        Files.writeString(hub.resolve(".cache/huggingface/x.json"), "{}");

        Path train = DatasetFiles.select(hub, null, DatasetFiles.TRAIN_SPLITS, "data.split");
        assertEquals(hub.resolve("data/train-[0-9]*-of-[0-9]*.parquet"), train);
        assertEquals(CHATS.subList(0, 2), normalizeKeyOrder(read(train).values()));
        assertEquals(
                hub.resolve("data/train-00001-of-00002.parquet") + "#row 0",
                read(train).locations().get(1));
        Path test = DatasetFiles.select(hub, null, DatasetFiles.EVAL_SPLITS, "data.eval_split");
        assertEquals(CHATS.subList(2, 3), normalizeKeyOrder(read(test).values()));
        PaftException e =
                fails(2, () -> DatasetFiles.select(hub, "train_prefs", DatasetFiles.TRAIN_SPLITS, "data.split"));
        assertEquals(hub + ": no split 'train_prefs' (data.split); it has: test, train", e.getMessage());
        // a glob given directly, as datasets' data_files takes
        assertEquals(
                CHATS.subList(0, 2),
                normalizeKeyOrder(read(hub.resolve("data/train-*.parquet")).values()));
    }

    @Test
    void directoriesOfSplitFilesAndSplitDirectories() throws IOException {
        Path flat = tmp.resolve("flat");
        TestDatasets.jsonl(flat.resolve("train.jsonl"), CHATS.subList(0, 2));
        TestDatasets.jsonl(flat.resolve("test.jsonl"), CHATS.subList(2, 3));
        assertEquals(
                flat.resolve("train.jsonl"), DatasetFiles.select(flat, null, DatasetFiles.TRAIN_SPLITS, "data.split"));
        assertEquals(
                flat.resolve("test.jsonl"),
                DatasetFiles.select(flat, null, DatasetFiles.EVAL_SPLITS, "data.eval_split"));

        Path nested = tmp.resolve("nested"); // the Hub's parquet conversion: <config>/<split>/0000.parquet
        TestDatasets.parquet(nested.resolve("default/train/0000.parquet"), CHATS.subList(0, 1), "snappy");
        TestDatasets.parquet(nested.resolve("default/train/0001.parquet"), CHATS.subList(1, 3), "snappy");
        Path train = DatasetFiles.select(nested, "train", DatasetFiles.TRAIN_SPLITS, "data.split");
        assertEquals(nested.resolve("default/train"), train);
        assertEquals(CHATS, normalizeKeyOrder(read(train).values()));

        Path subsets = tmp.resolve("subsets");
        TestDatasets.jsonl(subsets.resolve("en/train-00000-of-00001.jsonl"), CHATS);
        TestDatasets.jsonl(subsets.resolve("de/train-00000-of-00001.jsonl"), CHATS);
        PaftException e = fails(3, () -> DatasetFiles.select(subsets, null, DatasetFiles.TRAIN_SPLITS, "data.split"));
        assertTrue(e.getMessage().contains("split 'train' has files in several directories (de, en)"), e.getMessage());

        Path two = tmp.resolve("two");
        TestDatasets.jsonl(two.resolve("train_sft.jsonl"), CHATS);
        TestDatasets.jsonl(two.resolve("test_sft.jsonl"), CHATS);
        e = fails(2, () -> DatasetFiles.select(two, null, DatasetFiles.TRAIN_SPLITS, "data.split"));
        assertEquals(
                two + " holds the splits test_sft, train_sft: choose one with data.split (--split)", e.getMessage());
        assertEquals(
                two.resolve("train_sft.jsonl"),
                DatasetFiles.select(two, "train_sft", DatasetFiles.TRAIN_SPLITS, "data.split"));
        e = fails(
                2,
                () -> DatasetFiles.select(
                        two.resolve("train_sft.jsonl"), "train", DatasetFiles.TRAIN_SPLITS, "data.split"));
        assertTrue(e.getMessage().contains("is a single file"), e.getMessage());
    }

    // ---------------------------------------------------------------- unreadable files: exit 3, file named

    @Test
    void unreadableFilesExit3NamingTheFile() throws IOException {
        Path notParquet = Files.writeString(tmp.resolve("x.parquet"), "{\"text\": \"I am JSON\"}\n");
        PaftException e = fails(3, () -> read(notParquet));
        assertTrue(e.getMessage().startsWith(notParquet + ": cannot read Parquet: "), e.getMessage());

        Path notArrow =
                Files.writeString(tmp.resolve("x.arrow"), "not arrow at all, just some text that is long enough");
        e = fails(3, () -> read(notArrow));
        assertTrue(e.getMessage().startsWith(notArrow + ": cannot read Arrow IPC data"), e.getMessage());

        Path badUtf8 = tmp.resolve("latin1.jsonl");
        Files.write(badUtf8, "{\"text\": \"ok\"}\n{\"text\": \"caf\u00e9\"}\n".getBytes(StandardCharsets.ISO_8859_1));
        try (RecordSource src = DatasetFiles.openAll(badUtf8)) { // a bad row (skippable), named by its line
            assertEquals(null, src.next().error());
            RecordSource.Row bad = src.next();
            assertEquals(badUtf8 + ":2", bad.location());
            assertEquals("not UTF-8 text (dataset files must be UTF-8)", bad.error());
        }

        Path badArray = Files.writeString(tmp.resolve("bad.json"), "[\n{\"text\": \"a\"},\n{\"text\": \"b\"\n]\n");
        e = fails(3, () -> read(badArray));
        assertTrue(e.getMessage().startsWith(badArray + ":4:1: not valid JSON"), e.getMessage());

        Path object = Files.writeString(tmp.resolve("object.json"), "{\"data\": [\n{\"text\": \"a\"}\n]}\n");
        try (RecordSource s = DatasetFiles.openAll(object)) {
            assertTrue(s.next().error().startsWith("not valid JSON"), "a pretty-printed object is not JSON Lines");
        }

        Path gz = Files.write(tmp.resolve("trunc.jsonl.gz"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0});
        e = fails(3, () -> read(gz));
        assertTrue(e.getMessage().startsWith(gz + ": cannot read"), e.getMessage());

        Path other = Files.writeString(tmp.resolve("data.txt"), "hello");
        e = fails(3, () -> read(other));
        assertTrue(e.getMessage().startsWith(other + ": unknown dataset file type (supported: .jsonl"), e.getMessage());

        e = fails(3, () -> read(tmp.resolve("missing.jsonl")));
        assertEquals(tmp.resolve("missing.jsonl") + ": no such dataset file or directory", e.getMessage());
        e = fails(3, () -> read(tmp.resolve("nothing-*.parquet")));
        assertEquals(tmp.resolve("nothing-*.parquet") + ": no file matches", e.getMessage());
        Path empty = Files.createDirectories(tmp.resolve("emptydir"));
        e = fails(3, () -> read(empty));
        assertTrue(e.getMessage().startsWith(empty + ": no dataset files"), e.getMessage());

        Path state = TestDatasets.saveToDisk(tmp.resolve("broken"), "train", CHATS, 2);
        Files.delete(state.resolve("data-00001-of-00002.arrow"));
        e = fails(3, () -> read(state));
        assertEquals(
                state.resolve("state.json") + ": lists data-00001-of-00002.arrow, which is not in " + state,
                e.getMessage());
    }
}
