package dev.paft.data;

import static dev.paft.testutil.DataFixtures.DATA;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import dev.paft.testutil.TestTokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreferenceDatasetReaderTest {
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

    static PreferenceDatasetReader reader(PreferenceOptions o) {
        return new PreferenceDatasetReader(tok, zephyr, o);
    }

    @Test
    void explicitStringsAndMessages() {
        PreferenceDataset d = reader(PreferenceOptions.of(256, 128)).read(DATA.resolve("pref_explicit.jsonl"));
        assertEquals(2, d.examples().size());
        PreferenceExample s = d.examples().get(0);
        assertEquals(1, s.promptIds()[0]);
        assertEquals("The capital of France is", tok.decode(s.promptIds(), true));
        assertEquals(2, s.chosenIds()[s.chosenIds().length - 1]);
        assertEquals("Paris.", tok.decode(s.chosenIds(), true).strip());
        assertEquals("Rome.", tok.decode(s.rejectedIds(), true).strip());

        PreferenceExample m = d.examples().get(1);
        assertEquals("<s> <|user|>\nHi</s> \n<|assistant|>\n", tok.decode(m.promptIds()));
        assertEquals("Hello!</s>", tok.decode(m.chosenIds())); // EOS from the template, not doubled
        assertEquals("Go away.</s>", tok.decode(m.rejectedIds()));
    }

    @Test
    void implicitPromptIsTheLongestCommonPrefixOfMessages() {
        PreferenceDataset explicit = reader(PreferenceOptions.of(256, 128)).read(DATA.resolve("pref_explicit.jsonl"));
        PreferenceDataset implicit = reader(PreferenceOptions.of(256, 128)).read(DATA.resolve("pref_implicit.jsonl"));
        assertEquals(2, implicit.examples().size());
        // Line 1 (ultrafeedback shape, string prompt + extra fields) equals the explicit message form.
        PreferenceExample a = explicit.examples().get(1);
        PreferenceExample b = implicit.examples().get(0);
        assertArrayEquals(a.promptIds(), b.promptIds());
        assertArrayEquals(a.chosenIds(), b.chosenIds());
        assertArrayEquals(a.rejectedIds(), b.rejectedIds());
        // Line 2: system + user shared, so both are prompt.
        PreferenceExample c = implicit.examples().get(1);
        assertEquals(
                "<s> <|system|>\nBe brief.</s> \n<|user|>\nName a color.</s> \n<|assistant|>\n",
                tok.decode(c.promptIds()));
        assertEquals("Red.</s>", tok.decode(c.chosenIds()));
        assertEquals("I cannot.</s>", tok.decode(c.rejectedIds()));
    }

    static int[] range(int from, int n) {
        return IntStream.range(from, from + n).toArray();
    }

    @Test
    void truncationKeepsPromptEndThenCompletionStart() {
        PreferenceDatasetReader r = reader(PreferenceOptions.of(12, 8));
        DatasetStats.Counter c = new DatasetStats.Counter();
        PreferenceExample cut = r.truncate(new PreferenceExample(range(100, 10), range(200, 5), range(300, 3)), c);
        assertArrayEquals(range(102, 8), cut.promptIds()); // last 8 prompt tokens
        assertArrayEquals(range(200, 4), cut.chosenIds()); // 12 - 8 = 4 first tokens
        assertArrayEquals(range(300, 3), cut.rejectedIds()); // fits
        assertEquals(1, c.truncated);
        PreferenceExample fits = new PreferenceExample(range(100, 10), range(200, 2), range(300, 1));
        assertEquals(fits, r.truncate(fits, c)); // 10 + 2 <= 12: untouched
        assertEquals(1, c.truncated);
    }

    @Test
    void pairWhosePromptFillsMaxLengthIsDropped() {
        PreferenceDatasetReader r = reader(PreferenceOptions.of(8, 8));
        DatasetStats.Counter c = new DatasetStats.Counter();
        assertNull(r.truncate(new PreferenceExample(range(100, 10), range(200, 5), range(300, 3)), c));
        assertEquals(1, c.dropped);
        assertEquals(0, c.truncated);
    }

    @Test
    void truncationCountsWhenReadingAFile() {
        // prompt "The capital of France is" is 1 + 6 tokens; completions 3-5 tokens.
        PreferenceDataset d = reader(PreferenceOptions.of(9, 4)).read(DATA.resolve("pref_explicit.jsonl"));
        assertEquals(2, d.stats().truncated());
        for (PreferenceExample e : d.examples()) {
            assertTrue(e.chosenLength() <= 9 && e.rejectedLength() <= 9);
            assertTrue(e.promptIds().length <= 4);
        }
        PaftException all = assertThrows(
                PaftException.class,
                () -> reader(new PreferenceOptions(3, 3, false)).read(DATA.resolve("pref_explicit.jsonl")));
        assertTrue(all.getMessage().contains("pref_explicit.jsonl: no usable preference pairs"), all.getMessage());
        assertTrue(all.getMessage().contains("dropped 2"), all.getMessage());
    }

    @Test
    void badRecordsNameFileAndLineOrAreSkipped(@TempDir Path dir) throws Exception {
        String[][] cases = {
            {"{\"prompt\": \"p\", \"chosen\": \"a\"}", "missing field 'rejected'"},
            {
                "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}",
                "'chosen' and 'rejected' must both be strings or both message lists"
            },
            {
                "{\"chosen\": [{\"role\": \"user\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"b\"}]}",
                "'chosen' and 'rejected' share no leading messages"
            },
            {"{\"chosen\": \"a\", \"rejected\": \"b\"}", "missing field 'prompt'"},
            {
                "{\"prompt\": \"p\", \"chosen\": [{\"role\": \"robot\", \"content\": \"a\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"b\"}]}",
                "chosen[0]: unknown role 'robot'"
            },
        };
        Path f = dir.resolve("prefs.jsonl");
        StringBuilder all = new StringBuilder("{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n");
        for (String[] c : cases) {
            Files.writeString(f, "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n" + c[0] + "\n");
            PaftException e = assertThrows(
                    PaftException.class,
                    () -> reader(PreferenceOptions.of(64, 32)).read(f));
            assertTrue(e.getMessage().contains("prefs.jsonl:2: " + c[1]), e.getMessage());
            all.append(c[0]).append('\n');
        }
        Files.writeString(f, all.toString());
        PreferenceDataset d =
                reader(PreferenceOptions.of(64, 32).withSkipBadRecords(true)).read(f);
        assertEquals(6, d.stats().read());
        assertEquals(5, d.stats().skippedBad());
        assertEquals(List.of(1), List.of(d.examples().size()));
    }

    @Test
    void emptyFileIsAnError() {
        PaftException e = assertThrows(
                PaftException.class, () -> reader(PreferenceOptions.of(64, 32)).read(DATA.resolve("empty.jsonl")));
        assertTrue(e.getMessage().contains("empty.jsonl"));
    }
}
