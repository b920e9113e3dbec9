package dev.paft.data;

import static dev.paft.data.source.TestDatasets.records;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.data.source.TestDatasets;
import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import dev.paft.testutil.DataFixtures;
import dev.paft.testutil.TestTokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SFT and preference readers on other formats and schemas give exactly the examples of the
 * same data written as TRL JSONL; unknown schemas and bad rows exit 3 naming the row.
 */
class DatasetFormatsTest {
    static TextTokenizer tok;
    static ChatTemplate zephyr;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void open() {
        tok = TextTokenizer.open(TestTokenizers.LLAMA2);
        zephyr = ChatTemplate.load(TestTokenizers.LLAMA2, null);
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    static SftDatasetReader sft(SftOptions o) {
        return new SftDatasetReader(tok, zephyr, o);
    }

    static PreferenceDatasetReader pref() {
        return new PreferenceDatasetReader(tok, zephyr, PreferenceOptions.of(256, 128));
    }

    static void sameExamples(List<SftExample> expected, List<SftExample> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i).inputIds(), actual.get(i).inputIds(), "example " + i);
            assertArrayEquals(expected.get(i).labels(), actual.get(i).labels(), "labels " + i);
        }
    }

    static void samePairs(List<PreferenceExample> expected, List<PreferenceExample> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i).promptIds(), actual.get(i).promptIds(), "prompt " + i);
            assertArrayEquals(expected.get(i).chosenIds(), actual.get(i).chosenIds(), "chosen " + i);
            assertArrayEquals(expected.get(i).rejectedIds(), actual.get(i).rejectedIds(), "rejected " + i);
        }
    }

    @Test
    void shareGptParquetEqualsTrlMessagesJsonl() throws Exception {
        List<JsonNode> trl = records(
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be kind.\"}, {\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello there\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"content\": \"4\"}, {\"role\": \"user\", \"content\": \"3+3?\"}, {\"role\": \"assistant\", \"content\": \"6\"}]}");
        List<JsonNode> shareGpt = records(
                "{\"conversations\": [{\"from\": \"system\", \"value\": \"Be kind.\"}, {\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"gpt\", \"value\": \"Hello there\"}]}",
                "{\"conversations\": [{\"from\": \"human\", \"value\": \"2+2?\"}, {\"from\": \"gpt\", \"value\": \"4\"}, {\"from\": \"human\", \"value\": \"3+3?\"}, {\"from\": \"gpt\", \"value\": \"6\"}]}");
        SftDataset want = sft(SftOptions.defaults(512)).read(TestDatasets.jsonl(tmp.resolve("trl.jsonl"), trl));
        SftDataset got = sft(SftOptions.defaults(512))
                .read(TestDatasets.parquet(tmp.resolve("sharegpt.parquet"), shareGpt, "zstd"));
        sameExamples(want.examples(), got.examples());
        assertEquals(
                tmp.resolve("sharegpt.parquet") + ": read 2, skipped bad 0, truncated 0, dropped 0, examples 2",
                got.stats().toString());
        assertEquals(
                List.of("Hello there</s>"),
                DataFixtures.labelledRuns(tok, got.examples().get(0)));
    }

    @Test
    void alpacaArrowEqualsPromptCompletionMessages() throws Exception {
        List<JsonNode> trl = records(
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Add.\\n2 and 3\"}], \"completion\": [{\"role\": \"assistant\", \"content\": \"5\"}]}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Name a colour.\"}], \"completion\": [{\"role\": \"assistant\", \"content\": \"Blue.\"}]}");
        List<JsonNode> alpaca = records(
                "{\"instruction\": \"Add.\", \"input\": \"2 and 3\", \"output\": \"5\"}",
                "{\"instruction\": \"Name a colour.\", \"input\": \"\", \"output\": \"Blue.\"}");
        SftDataset want = sft(SftOptions.defaults(512)).read(TestDatasets.jsonl(tmp.resolve("pc.jsonl"), trl));
        Path dir = TestDatasets.saveToDisk(tmp.resolve("alpaca"), "train", alpaca, 2);
        SftDataset got = sft(SftOptions.defaults(512)).read(dir);
        sameExamples(want.examples(), got.examples());
        assertEquals(
                List.of("5</s>"), DataFixtures.labelledRuns(tok, got.examples().get(0)));
    }

    @Test
    void mappedColumnsJsonArray() throws Exception {
        List<JsonNode> qa = records("{\"question\": \"Sky?\", \"answer\": \" Blue.\"}");
        SftDataset want = sft(SftOptions.defaults(512))
                .read(TestDatasets.jsonl(
                        tmp.resolve("pcs.jsonl"), records("{\"prompt\": \"Sky?\", \"completion\": \" Blue.\"}")));
        Path array = Files.writeString(tmp.resolve("qa.json"), "[" + qa.get(0) + "]");
        SftDataset got = sft(SftOptions.defaults(512))
                .fields(Map.of("prompt", "question", "completion", "answer"))
                .read(array);
        sameExamples(want.examples(), got.examples());
    }

    @Test
    void preferenceForms() throws Exception {
        PreferenceDataset want = pref().read(TestDatasets.jsonl(
                tmp.resolve("explicit.jsonl"),
                records(
                        "{\"prompt\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"Hello!\"}],"
                                + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"Go away.\"}]}")));
        // implicit prompt (full conversations) in Arrow, as ultrafeedback_binarized's save_to_disk
        Path implicit = TestDatasets.saveToDisk(
                tmp.resolve("uf"),
                "train_prefs",
                records(
                        "{\"chosen\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}],"
                                + " \"rejected\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Go away.\"}]}"),
                1);
        samePairs(want.examples(), pref().read(implicit).examples());
        // a string prompt beside assistant-only lists, in Parquet
        Path stringPrompt = TestDatasets.parquet(
                tmp.resolve("sp.parquet"),
                records("{\"prompt\": \"Hi\", \"chosen\": [{\"role\": \"assistant\", \"content\": \"Hello!\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"Go away.\"}]}"),
                "snappy");
        samePairs(want.examples(), pref().read(stringPrompt).examples());
        // LLaMA-Factory's ShareGPT preference form
        Path lf = TestDatasets.jsonl(
                tmp.resolve("lf.jsonl"),
                records(
                        "{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}], \"chosen\": {\"from\": \"gpt\", \"value\": \"Hello!\"},"
                                + " \"rejected\": {\"from\": \"gpt\", \"value\": \"Go away.\"}}"));
        samePairs(want.examples(), pref().read(lf).examples());
    }

    @Test
    void unknownSchemaExits3NamingRowColumnsAndSchemas() throws Exception {
        Path p = TestDatasets.parquet(
                tmp.resolve("odd.parquet"), records("{\"a\": 1, \"b\": \"x\"}", "{\"a\": 2, \"b\": \"y\"}"), "snappy");
        PaftException e = assertThrows(
                PaftException.class, () -> sft(SftOptions.defaults(64)).read(p));
        assertEquals(3, e.exitCode());
        assertEquals(
                p
                        + "#row 0: found columns [a, b]; expected one of: messages | prompt+completion | text | conversations (ShareGPT)"
                        + " | instruction+output (Alpaca); map other columns with data.fields (e.g. data.fields.prompt: question)",
                e.getMessage());
        // skipping bad records does not hide a file of the wrong schema
        e = assertThrows(
                PaftException.class,
                () -> sft(SftOptions.defaults(64).withSkipBadRecords(true)).read(p));
        assertTrue(e.getMessage().startsWith(p + "#row 0: found columns [a, b]"), e.getMessage());
        e = assertThrows(PaftException.class, () -> pref().read(p));
        assertTrue(
                e.getMessage().startsWith(p + "#row 0: found columns [a, b]; expected one of: prompt+chosen+rejected"),
                e.getMessage());
    }

    @Test
    void badRowsAreNamedOrSkippedAndCounted() throws Exception {
        Path p = TestDatasets.parquet(
                tmp.resolve("mixed.parquet"),
                records(
                        "{\"text\": \"fine\", \"conversations\": null}",
                        "{\"text\": null, \"conversations\": [{\"from\": \"robot\", \"value\": \"x\"}]}",
                        "{\"text\": \"also fine\", \"conversations\": null}"),
                "snappy");
        PaftException e = assertThrows(
                PaftException.class, () -> sft(SftOptions.defaults(64)).read(p));
        assertTrue(
                e.getMessage().startsWith(p + "#row 1: conversations[0].from: unknown role 'robot'"), e.getMessage());
        SftDataset d = sft(SftOptions.defaults(64).withSkipBadRecords(true)).read(p);
        assertEquals(
                p + ": read 3, skipped bad 1, truncated 0, dropped 0, examples 2",
                d.stats().toString());
    }
}
