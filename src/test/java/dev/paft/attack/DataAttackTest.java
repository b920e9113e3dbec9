package dev.paft.attack;

import static dev.paft.attack.AttackInputs.paft;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.data.ChatMessage;
import dev.paft.data.PreferenceDataset;
import dev.paft.data.PreferenceDatasetReader;
import dev.paft.data.PreferenceExample;
import dev.paft.data.PreferenceOptions;
import dev.paft.data.SftDataset;
import dev.paft.data.SftDatasetReader;
import dev.paft.data.SftExample;
import dev.paft.data.SftOptions;
import dev.paft.data.TextTokenizer;
import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.SafetensorsFile;
import dev.paft.io.SafetensorsWriter;
import dev.paft.io.TensorStore;
import dev.paft.testutil.Cli.Run;
import dev.paft.testutil.TestTokenizers;
import dev.paft.testutil.TinyModels;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile data and flags (issue 19 items 9, 12 and 16): invalid UTF-8, huge records, absurd LoRA ranks and
 * plans, a scalar over a config section, an unknown device, a model missing a tensor, a huge metadata string.
 */
class DataAttackTest {
    @TempDir
    static Path tmp;

    static TextTokenizer llama2;
    static final String SFT = AttackInputs.DEMO_DATA.resolve("sft_train.jsonl").toString();

    @BeforeAll
    static void open() {
        llama2 = TextTokenizer.open(TestTokenizers.LLAMA2);
    }

    @AfterAll
    static void close() {
        llama2.close();
    }

    Run dryRun(String... extra) {
        String[] base = {
            "train-sft",
            "--model",
            TinyModels.DEMO_MODEL.toString(),
            "--train",
            SFT,
            "-o",
            tmp.resolve("out").toString(),
            "--dry-run"
        };
        String[] all = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return paft(all);
    }

    /** Words of a pseudo-English text of about {@code chars} characters. */
    static String words(long seed, int chars) {
        String[] w = {
            "the",
            "quick",
            "brown",
            "fox",
            "jumps",
            "over",
            "a",
            "lazy",
            "dog",
            "tokenization",
            "naïve",
            "日本語",
            "emoji😀",
            "\n\n",
            "  ",
            "x1234",
            "don't",
            "C++"
        };
        SplittableRandom r = new SplittableRandom(seed);
        StringBuilder sb = new StringBuilder(chars + 16);
        while (sb.length() < chars) {
            sb.append(w[r.nextInt(w.length)]).append(' ');
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------- invalid UTF-8 (item 16)

    @Test
    void invalidUtf8NamesFileAndLineAndIsSkippable() throws Exception {
        Path f = tmp.resolve("bad-utf8.jsonl");
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(Files.readAllBytes(Path.of(SFT)));
        b.write("{\"text\": \"ab".getBytes(StandardCharsets.UTF_8));
        b.write(new byte[] {(byte) 0xC3, (byte) 0x28}); // a 2-byte lead followed by '(': invalid
        b.write("\"}\n".getBytes(StandardCharsets.UTF_8));
        Files.write(f, b.toByteArray());
        int line = Files.readAllLines(Path.of(SFT)).size() + 1;
        Run r = paft(
                "train-sft",
                "--model",
                TinyModels.DEMO_MODEL.toString(),
                "--train",
                f.toString(),
                "-o",
                tmp.resolve("o").toString(),
                "--dry-run");
        assertEquals(3, r.code(), r.err());
        String err = r.err().strip();
        assertTrue(
                err.startsWith("paft train-sft: error: " + f + ":" + line + ": ")
                        && err.contains("UTF-8")
                        && err.lines().count() == 1,
                err); // one line naming file:line
        Run skip = paft(
                "train-sft",
                "--model",
                TinyModels.DEMO_MODEL.toString(),
                "--train",
                f.toString(),
                "-o",
                tmp.resolve("o").toString(),
                "--dry-run",
                "--skip-bad-records");
        assertEquals(0, skip.code(), skip.err());
    }

    // ---------------------------------------------------------------- huge records (item 12)

    @Test
    void longTextIsTokenizedThroughAWindowWithTheSameKeptTokens() {
        int max = 256;
        SftDatasetReader windowed = new SftDatasetReader(llama2, null, SftOptions.defaults(max));
        SftDatasetReader whole =
                new SftDatasetReader(llama2, null, SftOptions.defaults(max).withPacking(true));
        for (String text : new String[] {
            words(1, 60_000),
            "a".repeat(60_000),
            "😀".repeat(20_000),
            " ".repeat(30_000) + words(2, 30_000),
            words(3, 5_000)
        }) {
            SftExample w = windowed.encodeText(text);
            SftExample f = whole.encodeText(text); // packing keeps every token: the whole string, tokenized once
            assertTrue(f.length() > max, "long enough to be cut: " + f.length());
            assertArrayEquals(Arrays.copyOf(f.inputIds(), max), Arrays.copyOf(w.inputIds(), max));
            assertTrue(w.length() > max, "still reported as truncated");
        }
    }

    @Test
    void longPromptCompletionKeepsTheSameTokensAndLabels() {
        int max = 128;
        SftDatasetReader windowed = new SftDatasetReader(llama2, null, SftOptions.defaults(max));
        SftDatasetReader whole =
                new SftDatasetReader(llama2, null, SftOptions.defaults(max).withPacking(true));
        String[][] cases = {
            {"Question: " + words(4, 200), words(5, 40_000)},
            {words(6, 40_000), "short answer"},
            {"hi", "b".repeat(50_000)}
        };
        for (String[] c : cases) {
            SftExample w = windowed.encodePromptCompletion(c[0], c[1]);
            SftExample f = whole.encodePromptCompletion(c[0], c[1]);
            assertArrayEquals(Arrays.copyOf(f.inputIds(), max), Arrays.copyOf(w.inputIds(), max));
            assertArrayEquals(Arrays.copyOf(f.labels(), max), Arrays.copyOf(w.labels(), max));
        }
    }

    @Test
    void longPreferenceStringsTruncateAsTheWholeStringsWould() throws Exception {
        int max = 128;
        int maxPrompt = 48;
        String prompt = words(7, 30_000);
        String chosen = words(8, 30_000);
        String rejected = "no";
        Path f = AttackInputs.write(
                tmp.resolve("long-prefs.jsonl"),
                AttackInputs.JSON
                                .createObjectNode()
                                .put("prompt", prompt)
                                .put("chosen", chosen)
                                .put("rejected", rejected)
                        + "\n");
        PreferenceDataset d =
                new PreferenceDatasetReader(llama2, null, new PreferenceOptions(max, maxPrompt, false)).read(f);
        // TRL's truncation of the whole strings, tokenized whole: prompt keeps its last 48 tokens, completions
        // their first 128 - 48
        int[] p = llama2.encodeStart(prompt);
        int[] c = withEos(llama2.encode(chosen));
        int[] r = withEos(llama2.encode(rejected));
        PreferenceExample e = d.examples().get(0);
        assertArrayEquals(Arrays.copyOfRange(p, p.length - maxPrompt, p.length), e.promptIds());
        assertArrayEquals(Arrays.copyOf(c, max - maxPrompt), e.chosenIds());
        assertArrayEquals(r, e.rejectedIds());
        assertEquals(1, d.stats().truncated());
    }

    static int[] withEos(int[] ids) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = llama2.requireEos();
        return out;
    }

    @Test
    void hugeConversationIsDroppedUnrenderedAndCounted() throws Exception {
        ChatTemplate t = ChatTemplate.load(TestTokenizers.LLAMA2, null);
        String huge = "x ".repeat(5_000_000); // 10 M characters
        Path f = AttackInputs.write(
                tmp.resolve("huge-conv.jsonl"),
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n"
                        + "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \""
                        + huge + "\"}]}\n");
        long t0 = System.nanoTime();
        SftDataset d = new SftDatasetReader(llama2, t, SftOptions.defaults(1024)).read(f);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(1, d.examples().size());
        assertEquals(1, d.stats().dropped());
        assertTrue(seconds < 10, "read in " + seconds + " s (a 10 MB record took 67 s before)");
        assertEquals(ChatMessage.user("hi").content(), "hi");
    }

    @Test
    void hugeTextRecordDryRunIsFast() {
        // 3 M characters of text with the Llama-2 tokenizer: about 7 s per whole tokenization on this machine class
        Path model = TinyModels.llama(tmp.resolve("llama"), 1);
        Path f = AttackInputs.write(
                tmp.resolve("huge-text.jsonl"),
                "{\"text\": \"hello world\"}\n{\"text\": \""
                        + words(9, 3_000_000).replace("\n", " ").replace("\"", "") + "\"}\n");
        long t0 = System.nanoTime();
        Run r = paft(
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                f.toString(),
                "-o",
                tmp.resolve("oh").toString(),
                "--dry-run",
                "--max-length",
                "1024");
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(0, r.code(), r.err());
        assertTrue(seconds < 5, "dry run in " + seconds + " s");
    }

    // ---------------------------------------------------------------- flags and plans (items 9 and 16)

    @Test
    void scalarOverASectionNamesTheSetFlag() {
        Run r = dryRun("--set", "training=5");
        assertEquals(2, r.code(), r.err());
        assertEquals(
                "paft train-sft: error: --set training=5: 'training' is a section, not a value; set one of its keys,"
                        + " e.g. training.",
                r.err().strip().substring(0, r.err().strip().indexOf("training.") + 9));
        Run unknown = dryRun("--set", "bogus=5");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("--set bogus=5: unknown section 'bogus'"), unknown.err());
    }

    @Test
    void dryRunChecksTheDevice() {
        Run r = dryRun("--device", "tpu");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--device tpu: expected cpu, cuda, cuda:N or auto"), r.err());
        assertEquals(2, dryRun("--threads", "-3").code());
    }

    @Test
    void loraRankIsBoundedByTheModuleShapes() {
        // demo model: hidden 128, kv projections [64, 128], MLP 344: the smallest targeted min(out, in) is 64 (k_proj)
        Run r = dryRun("--lora-r", "100000");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("lora.r = 100000 exceeds the rank of module 'model.layers.0.self_attn."), r.err());
        assertTrue(r.err().contains("r must be at most min(out, in) = "), r.err());
        Run q = dryRun("--lora-r", "128", "--set", "lora.target_modules=[q_proj]");
        assertEquals(0, q.code(), q.err());
        assertEquals(
                2,
                dryRun("--lora-r", "129", "--set", "lora.target_modules=[q_proj]")
                        .code());
    }

    @Test
    void dryRunRefusesAPlanBeyondTheMachinesMemory() {
        Run r = dryRun("--batch-size", "10000000");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("does not fit this machine's"), r.err());
        assertFalse(r.out().contains("valid"), r.out());
    }

    // ---------------------------------------------------------------- files (item 16)

    @Test
    void fiftyMegabyteMetadataStringIsAValidFile() throws Exception {
        Path f = tmp.resolve("meta.safetensors");
        SafetensorsWriter.writeAll(
                f,
                Map.of("w", FloatTensor.of(new float[] {1, 2}, 2)),
                DType.F32,
                Map.of("notes", "n".repeat(50 << 20)));
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertEquals(50 << 20, s.metadata().get("notes").length());
            assertArrayEquals(new float[] {1, 2}, s.readFloats("w"));
        }
        // an absurd declared header length is still refused before anything is allocated
        byte[] b = Files.readAllBytes(f);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Path absurd = tmp.resolve("absurd.safetensors");
        Files.write(absurd, b);
        PaftException e = assertThrows(PaftException.class, () -> SafetensorsFile.open(absurd));
        assertTrue(e.getMessage().contains("declared header length 1099511627776"), e.getMessage());
    }

    @Test
    void sparsityReportRefusesAModelMissingABaseTensor() throws Exception {
        Path base = TinyModels.demo(tmp.resolve("sr-base"));
        Path model = TinyModels.demo(tmp.resolve("sr-model"));
        Map<String, FloatTensor> kept = new LinkedHashMap<>();
        try (TensorStore s = TensorStore.openModel(model)) {
            for (String n : s.names()) {
                if (!n.equals("model.layers.2.mlp.down_proj.weight")) {
                    kept.put(n, s.read(n));
                }
            }
        }
        SafetensorsWriter.writeAll(model.resolve("model.safetensors"), kept, DType.F32, Map.of("format", "pt"));
        Run r = paft("sparsity-report", model.toString(), "--base", base.toString());
        assertEquals(3, r.code(), r.err() + r.out());
        assertTrue(
                r.err().contains("model has no tensor 'model.layers.2.mlp.down_proj.weight' (present in the base"),
                r.err());
    }
}
