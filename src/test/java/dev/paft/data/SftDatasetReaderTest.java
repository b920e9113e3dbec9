package dev.paft.data;

import static dev.paft.testutil.DataFixtures.DATA;
import static dev.paft.testutil.DataFixtures.count;
import static dev.paft.testutil.DataFixtures.labelledRuns;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import dev.paft.testutil.TestTokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SftDatasetReaderTest {
    static TextTokenizer tok;
    static ChatTemplate zephyr;

    @BeforeAll
    static void open() {
        tok = TextTokenizer.open(TestTokenizers.LLAMA2);
        zephyr = ChatTemplate.load(TestTokenizers.LLAMA2, null);
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    static SftDataset read(String file, SftOptions opts) {
        return new SftDatasetReader(tok, zephyr, opts).read(DATA.resolve(file));
    }

    @Test
    void messagesTrainOnAssistantTurnOnly() {
        SftDataset d = read("sft_messages.jsonl", SftOptions.defaults(512));
        assertEquals(2, d.examples().size());
        SftExample e = d.examples().get(0);
        assertEquals(1, e.inputIds()[0]); // one BOS, added by the tokenizer rule
        assertEquals(1, count(e.inputIds(), 1));
        assertEquals(List.of("Hello there</s>"), labelledRuns(tok, e));
    }

    @Test
    void multiTurnMasksEveryAssistantTurn() {
        SftExample e =
                read("sft_messages.jsonl", SftOptions.defaults(512)).examples().get(1);
        assertEquals(List.of("It is 4.</s>", "It is 6.</s>"), labelledRuns(tok, e));
    }

    @Test
    void userAndSystemTextIsNotTrained() {
        SftExample e =
                read("sft_messages.jsonl", SftOptions.defaults(512)).examples().get(0);
        int firstLabel = 0;
        while (e.labels()[firstLabel] == SftExample.IGNORE) {
            firstLabel++;
        }
        String prompt = tok.decode(Arrays.copyOf(e.inputIds(), firstLabel), true);
        assertTrue(
                prompt.contains("You are kind.") && prompt.contains("Hi") && prompt.endsWith("<|assistant|>\n"),
                prompt);
    }

    @Test
    void trainOnPromptLabelsEveryToken() {
        SftExample e = read("sft_messages.jsonl", SftOptions.defaults(512).withTrainOnPrompt(true))
                .examples()
                .get(0);
        assertArrayEquals(e.inputIds(), e.labels());
    }

    @Test
    void promptCompletionStringsAndMessages() {
        SftDataset d = read("sft_prompt_completion.jsonl", SftOptions.defaults(512));
        SftExample s = d.examples().get(0);
        assertEquals(List.of("blue.</s>"), labelledRuns(tok, s));
        assertEquals(1, s.inputIds()[0]);
        assertEquals(2, s.inputIds()[s.length() - 1]); // EOS appended
        SftExample m = d.examples().get(1);
        assertEquals(List.of("Hello</s>"), labelledRuns(tok, m));
        // Llama-2 (legacy) puts a word marker after each special token, hence "</s> \n".
        assertEquals("<s> <|user|>\nHi</s> \n<|assistant|>\nHello</s> \n", tok.decode(m.inputIds()));
    }

    @Test
    void textTrainsOnAllTokensPlusEos() {
        SftDataset d = read("sft_text.jsonl", SftOptions.defaults(512));
        assertEquals(2, d.examples().size());
        assertEquals(new DatasetStats(DATA.resolve("sft_text.jsonl").toString(), 2, 0, 0, 0, 2), d.stats());
        SftExample e = d.examples().get(0);
        assertArrayEquals(e.inputIds(), e.labels());
        assertEquals(1, e.inputIds()[0]);
        assertEquals(2, e.inputIds()[e.length() - 1]);
        assertEquals("Once upon a time", tok.decode(e.inputIds(), true));
    }

    @Test
    void truncationKeepsTheStartAndCounts(@TempDir Path dir) throws Exception {
        String longWords = "word ".repeat(40).strip();
        Path f = dir.resolve("t.jsonl");
        Files.writeString(
                f,
                "{\"text\": \"Hi\"}\n"
                        + "{\"messages\": [{\"role\": \"user\", \"content\": \"" + longWords
                        + "\"}, {\"role\": \"assistant\", \"content\": \"ok\"}]}\n"
                        + "{\"text\": \"" + longWords + "\"}\n");
        SftDataset d = new SftDatasetReader(tok, zephyr, SftOptions.defaults(16)).read(f);
        DatasetStats s = d.stats();
        assertEquals(3, s.read());
        assertEquals(1, s.truncated());
        assertEquals(1, s.dropped()); // the user turn alone fills 16 tokens: no label left
        assertEquals(2, s.examples());
        SftExample cut = d.examples().get(1);
        assertEquals(16, cut.length());
        assertEquals(1, cut.inputIds()[0]);
        assertTrue(tok.decode(cut.inputIds(), true).startsWith("word word"));
    }

    @Test
    void malformedLineIsAnErrorNamingFileAndLine() {
        PaftException e = assertThrows(PaftException.class, () -> read("sft_bad.jsonl", SftOptions.defaults(64)));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("sft_bad.jsonl:2: not valid JSON"), e.getMessage());
    }

    @Test
    void eachKindOfBadRecordNamesItsProblem(@TempDir Path dir) throws Exception {
        String[][] cases = {
            {"{\"txt\": \"x\"}", "found columns [txt]; expected one of: messages | prompt+completion | text"},
            {"{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", "messages[0]: unknown role 'wizard'"},
            {"{\"text\": 42}", "field 'text' must be a string"},
            {"{\"messages\": [{\"role\": \"user\"}]}", "messages[0]: missing or non-string 'content'"},
            {"{\"messages\": \"hello\"}", "field 'messages' must be a list of messages"},
            {
                "{\"prompt\": \"a\", \"completion\": [{\"role\": \"assistant\", \"content\": \"b\"}]}",
                "'prompt' and 'completion' must both be strings or both message lists"
            },
            {"[1, 2]", "expected a JSON object"},
        };
        for (String[] c : cases) {
            Path f = dir.resolve("bad.jsonl");
            Files.writeString(f, "{\"text\": \"fine\"}\n\n" + c[0] + "\n");
            PaftException e = assertThrows(
                    PaftException.class, () -> new SftDatasetReader(tok, zephyr, SftOptions.defaults(64)).read(f));
            assertTrue(e.getMessage().contains("bad.jsonl:3: " + c[1]), e.getMessage());
        }
    }

    @Test
    void skipBadRecordsCountsThem() {
        SftDataset d = read("sft_bad.jsonl", SftOptions.defaults(64).withSkipBadRecords(true));
        assertEquals(6, d.stats().read());
        assertEquals(4, d.stats().skippedBad());
        assertEquals(2, d.examples().size());
        assertEquals(List.of("Yo</s>"), labelledRuns(tok, d.examples().get(1)));
    }

    @Test
    void emptyDatasetIsAnErrorNamingTheFile() {
        PaftException e = assertThrows(PaftException.class, () -> read("empty.jsonl", SftOptions.defaults(64)));
        assertTrue(e.getMessage().contains("empty.jsonl"), e.getMessage());
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
    }

    @Test
    void allRecordsSkippedIsAnError(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("allbad.jsonl");
        Files.writeString(f, "{oops\n");
        PaftException e = assertThrows(
                PaftException.class,
                () -> new SftDatasetReader(tok, zephyr, SftOptions.defaults(64).withSkipBadRecords(true)).read(f));
        assertTrue(e.getMessage().contains("allbad.jsonl: no usable examples"), e.getMessage());
    }

    @Test
    void conversationsWithoutATemplateAreAUsageError() {
        PaftException e = assertThrows(
                PaftException.class,
                () -> new SftDatasetReader(tok, null, SftOptions.defaults(64))
                        .read(DATA.resolve("sft_messages.jsonl")));
        assertEquals(PaftException.USAGE, e.exitCode());
    }

    @Test
    void packingMakesFixedBlocksCarryingLabels() {
        SftDataset plain = read("sft_text.jsonl", SftOptions.defaults(512));
        SftDataset packed = read("sft_text.jsonl", SftOptions.defaults(4).withPacking(true));
        int total = plain.examples().stream().mapToInt(SftExample::length).sum(); // both end in EOS: no separator
        assertEquals((total + 3) / 4, packed.examples().size());
        int[] stream = new int[total];
        int n = 0;
        for (SftExample b : packed.examples()) {
            assertTrue(b.length() <= 4);
            assertArrayEquals(b.inputIds(), b.labels());
            System.arraycopy(b.inputIds(), 0, stream, n, b.length());
            n += b.length();
        }
        int[] expected = new int[total];
        int m = 0;
        for (SftExample e : plain.examples()) {
            System.arraycopy(e.inputIds(), 0, expected, m, e.length());
            m += e.length();
        }
        assertArrayEquals(expected, stream);
        assertEquals(packed.examples().size(), packed.stats().examples());
    }

    @Test
    void templateThatWritesBosGetsNoSecondBos() {
        ChatTemplate withBos = new ChatTemplate(
                "{{ bos_token }}" + zephyr.template(),
                "zephyr+bos",
                TokenizerConfig.read(TestTokenizers.LLAMA2).specialTokens());
        SftDataset d =
                new SftDatasetReader(tok, withBos, SftOptions.defaults(512)).read(DATA.resolve("sft_messages.jsonl"));
        for (SftExample e : d.examples()) {
            assertEquals(1, e.inputIds()[0]);
            assertEquals(1, count(e.inputIds(), 1));
        }
        assertEquals(
                List.of("It is 4.</s>", "It is 6.</s>"),
                labelledRuns(tok, d.examples().get(1)));
    }
}
