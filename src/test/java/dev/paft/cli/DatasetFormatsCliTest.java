package dev.paft.cli;

import static dev.paft.data.source.TestDatasets.records;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.data.source.TestDatasets;
import dev.paft.testutil.DemoModelTest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The real train-sft / train-dpo commands (--dry-run) pointed at dataset directories as users have them. */
class DatasetFormatsCliTest extends DemoModelTest {
    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cl = Paft.commandLine();
        cl.setErr(new PrintWriter(err, true));
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            int code = cl.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(saved);
        }
    }

    static List<JsonNode> shareGpt(int n, String tag) {
        List<JsonNode> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.addAll(records("{\"conversations\": [{\"from\": \"human\", \"value\": \"" + tag + " question " + i
                    + "\"}," + " {\"from\": \"gpt\", \"value\": \"answer " + i + "\"}]}"));
        }
        return out;
    }

    @Test
    void sftOnHubParquetShardsWithSplits() throws Exception {
        Path hub = tmp.resolve("hub");
        TestDatasets.parquet(hub.resolve("data/train_sft-00000-of-00002.parquet"), shareGpt(3, "a"), "snappy");
        TestDatasets.parquet(hub.resolve("data/train_sft-00001-of-00002.parquet"), shareGpt(2, "b"), "snappy");
        TestDatasets.parquet(hub.resolve("data/test_sft-00000-of-00001.parquet"), shareGpt(2, "c"), "snappy");
        String[] base = {
            "train-sft",
            "--model",
            model.toString(),
            "--train",
            hub.toString(),
            "--eval",
            hub.toString(),
            "-o",
            tmp.resolve("out").toString(),
            "--max-length",
            "64",
            "--dry-run"
        };
        Run r = run(base);
        assertEquals(2, r.code(), r.err());
        assertTrue(
                r.err().contains(hub + " holds the splits test_sft, train_sft: choose one with data.split (--split)"),
                r.err());
        List<String> a = new ArrayList<>(List.of(base));
        a.addAll(List.of("--split", "train_sft", "--eval-split", "test_sft"));
        r = run(a.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertTrue(
                r.out()
                        .contains("train data: " + hub.resolve("data/train_sft-[0-9]*-of-[0-9]*.parquet")
                                + ": read 5, skipped bad 0"),
                r.out());
        assertTrue(
                r.out().contains("eval data: " + hub.resolve("data/test_sft-00000-of-00001.parquet") + ": read 2"),
                r.out());
    }

    @Test
    void dpoOnSaveToDiskDatasetDict() throws Exception {
        List<JsonNode> pairs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            pairs.addAll(records(
                    "{\"prompt\": \"Q" + i + "\", \"chosen\": [{\"role\": \"assistant\", \"content\": \"good " + i
                            + "\"}]," + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"bad " + i + "\"}]}"));
        }
        Path dict =
                TestDatasets.saveToDiskDict(tmp.resolve("prefs"), Map.of("train", pairs, "test", pairs.subList(0, 2)));
        Run r = run(
                "train-dpo",
                "--model",
                model.toString(),
                "--train",
                dict.toString(),
                "--eval",
                dict.toString(),
                "-o",
                tmp.resolve("dpo").toString(),
                "--max-length",
                "64",
                "--set",
                "data.max_prompt_length=32",
                "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("train data: " + dict.resolve("train") + ": read 4"), r.out());
        assertTrue(r.out().contains("eval data: " + dict.resolve("test") + ": read 2"), r.out());
    }

    @Test
    void unknownSchemaAndUnreadableFileExit3() throws Exception {
        Path odd = TestDatasets.jsonl(tmp.resolve("odd.jsonl"), records("{\"question\": \"Q\", \"answer\": \"A\"}"));
        String[] a = {
            "train-sft",
            "--model",
            model.toString(),
            "--train",
            odd.toString(),
            "-o",
            tmp.resolve("o").toString(),
            "--dry-run"
        };
        Run r = run(a);
        assertEquals(3, r.code(), r.err());
        assertTrue(
                r.err()
                        .contains(
                                odd
                                        + ":1: found columns [question, answer]; expected one of: messages | prompt+completion"),
                r.err());
        assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
        // ... and the documented mapping reads it
        r = run(
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                odd.toString(),
                "-o",
                tmp.resolve("o").toString(),
                "--dry-run",
                "--set",
                "data.fields.instruction=question",
                "--set",
                "data.fields.output=answer");
        assertEquals(0, r.code(), r.err());
        Path broken = Files.writeString(tmp.resolve("broken.parquet"), "PAR1 not really");
        r = run(
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                broken.toString(),
                "-o",
                tmp.resolve("o").toString(),
                "--dry-run");
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains(broken + ": cannot read Parquet: "), r.err());
    }
}
