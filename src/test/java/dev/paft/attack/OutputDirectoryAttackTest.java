package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.io.OutputDirs;
import dev.paft.testutil.Cli;
import dev.paft.testutil.DemoModelTest;
import dev.paft.testutil.TinyModels;
import dev.paft.train.RunDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Issue 19 items 1, 2, 16 (temporaries): training and merge outputs never destroy what the user has. */
class OutputDirectoryAttackTest extends DemoModelTest {
    /** name -> bytes of every regular file under {@code dir}. */
    static Map<String, byte[]> snapshot(Path dir) throws Exception {
        Map<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                m.put(dir.relativize(p).toString(), Files.readAllBytes(p));
            }
        }
        return m;
    }

    static void assertSameTree(Map<String, byte[]> before, Path dir) throws Exception {
        Map<String, byte[]> after = snapshot(dir);
        assertEquals(before.keySet(), after.keySet(), "files of " + dir);
        for (String k : before.keySet()) {
            assertArrayEquals(before.get(k), after.get(k), k + " changed");
        }
    }

    static List<String> hiddenSiblings(Path out) throws Exception {
        try (Stream<Path> s = Files.list(out.getParent())) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("." + out.getFileName() + ".") && !n.endsWith(".paft-lock"))
                    .toList();
        }
    }

    @Test
    void outputTrainingIntoTheBaseModelIsRefused() throws Exception {
        Path m = TinyModels.demo(tmp.resolve("victim"));
        Map<String, byte[]> before = snapshot(m);
        for (String[] extra : new String[][] {{}, {"--overwrite"}}) {
            Cli.Run r = Attack.cli(Attack.sft(m, m, extra));
            assertEquals(2, r.code(), r.all());
            assertTrue(r.err().contains("is the base model (model.path)"), r.err());
            assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        }
        // train-dpo goes through the same policy
        Cli.Run r = Attack.cli(
                "train-dpo",
                "--model",
                m.toString(),
                "--train",
                Attack.DATA.resolve("pref_train.jsonl").toString(),
                "-o",
                m.toString(),
                "--max-steps",
                "2",
                "--threads",
                "2");
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("is the base model (model.path)"), r.err());
        assertSameTree(before, m);
    }

    @Test
    void outputThatIsARegularFileIsRefused() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file"), "mine");
        Cli.Run r = Attack.cli(Attack.sft(model, file, "--overwrite"));
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("is a file, not a directory"), r.err());
        assertEquals("mine", Files.readString(file));
    }

    @Test
    void outputContainingAnInputIsRefused() throws Exception {
        // the data file inside the output directory
        Path out = tmp.resolve("holds-data");
        Files.createDirectories(out);
        Path data = Files.copy(Attack.DATA.resolve("sft_train.jsonl"), out.resolve("train.jsonl"));
        String[] a = Attack.sft(model, out);
        for (int i = 0; i < a.length; i++) {
            if (a[i].equals("--train")) {
                a[i + 1] = data.toString();
            }
        }
        Cli.Run r = Attack.cli(a);
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("contains the training data (data.train)"), r.err());
        // the model inside the output directory (-o its parent)
        Path parent = tmp.resolve("holds-model");
        Path inner = TinyModels.demo(parent.resolve("m"));
        r = Attack.cli(Attack.sft(inner, parent, "--overwrite"));
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("contains the base model"), r.err());
        assertTrue(Files.isRegularFile(inner.resolve("model.safetensors")));
    }

    @Test
    void outputOverwriteKeepsTheOldRunWhenTheNewOneFails() throws Exception {
        Path out = tmp.resolve("keep");
        assertEquals(0, Attack.cli(Attack.sft(model, out)).code());
        Map<String, byte[]> before = snapshot(out);
        // the new run diverges (exit 4): the finished run must be untouched
        Cli.Run r = Attack.cli(Attack.sft(model, out, "--overwrite", "--lr", "1e6", "--max-steps", "12"));
        assertEquals(4, r.code(), r.all());
        assertTrue(r.err().contains("previous run in " + out + " is unchanged"), r.err());
        assertSameTree(before, out);
        assertEquals(List.of(), hiddenSiblings(out), "the failed run's directory is removed");
    }

    @Test
    void outputOverwriteReplacesTheRunOnlyWhenTheNewOneFinished() throws Exception {
        Path out = tmp.resolve("replace");
        assertEquals(0, Attack.cli(Attack.sft(model, out)).code());
        byte[] old = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        Cli.Run r = Attack.cli(Attack.sft(model, out, "--overwrite", "--lr", "2e-2"));
        assertEquals(0, r.code(), r.all());
        assertFalse(Arrays.equals(old, Files.readAllBytes(out.resolve("adapter_model.safetensors"))));
        assertTrue(Files.readString(out.resolve("training_config.yaml")).contains("learning_rate: 0.02"));
        assertTrue(Files.isDirectory(out.resolve("checkpoint-4")));
        assertEquals(List.of(), hiddenSiblings(out));
    }

    @Test
    void outputOverwriteNeverDeletesFilesPaftDidNotWrite() throws Exception {
        Path out = tmp.resolve("foreign");
        assertEquals(0, Attack.cli(Attack.sft(model, out)).code());
        Files.writeString(out.resolve("notes.txt"), "my notes");
        Map<String, byte[]> before = snapshot(out);
        Cli.Run r = Attack.cli(Attack.sft(model, out, "--overwrite"));
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("holds files paft did not write (notes.txt)"), r.err());
        assertSameTree(before, out);
        // a non-empty folder with no run in it is not written into at all
        Path mine = tmp.resolve("mine");
        Files.createDirectories(mine);
        Files.writeString(mine.resolve("adapter_config.json.bak"), "{}");
        r = Attack.cli(Attack.sft(model, mine));
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("is not empty and holds no paft run"), r.err());
        assertEquals(List.of("adapter_config.json.bak"), OutputDirs.foreignEntries(mine, n -> false));
    }

    @Test
    void outputTemporariesOfAKilledRunAreRemovedByTheNext() throws Exception {
        Path out = tmp.resolve("debris");
        // what a SIGKILL (or a full disk) leaves: a half-built run beside the output, a half-written
        // checkpoint and a torn config inside, and a metrics file of a run that never checkpointed
        Path sibling = tmp.resolve(".debris.tmp-999999");
        Files.createDirectories(sibling.resolve("checkpoint-2"));
        Files.write(sibling.resolve("checkpoint-2").resolve("optimizer.bin"), new byte[4096]);
        Files.createDirectories(out.resolve(".checkpoint-2.tmp-999998"));
        Files.write(out.resolve(".checkpoint-2.tmp-999998").resolve("optimizer.bin"), new byte[4096]);
        Files.writeString(out.resolve(".training_config.yaml.tmp"), "torn");
        Files.writeString(out.resolve("metrics.jsonl"), "{\"step\": 1, \"loss\": 9}\n");
        Cli.Run r = Attack.cli(Attack.sft(model, out));
        assertEquals(0, r.code(), r.all());
        assertFalse(Files.exists(sibling));
        assertFalse(Files.exists(out.resolve(".checkpoint-2.tmp-999998")));
        assertFalse(Files.exists(out.resolve(".training_config.yaml.tmp")));
        assertFalse(Files.readString(out.resolve("metrics.jsonl")).contains("\"loss\": 9"));
    }

    @Test
    void outputSwapInterruptedBetweenItsRenamesIsRolledBack() throws Exception {
        // a kill after "out -> .out.old-PID" and before ".out.tmp-PID -> out"
        Path out = tmp.resolve("swap");
        Path old = tmp.resolve(".swap.old-424242");
        Path next = tmp.resolve(".swap.tmp-424242");
        Files.createDirectories(old);
        Files.writeString(old.resolve("adapter_config.json"), "old");
        Files.createDirectories(next);
        Files.writeString(next.resolve("adapter_config.json"), "new");
        List<Path> removed = OutputDirs.cleanStale(out, RunDirectory.OWNED);
        assertEquals("old", Files.readString(out.resolve("adapter_config.json")));
        assertEquals(List.of(next.toAbsolutePath()), removed);
        assertFalse(Files.exists(old));
        // and a completed swap: the old directory is gone, the new one in place
        Path fresh = tmp.resolve("swap-fresh");
        Files.createDirectories(fresh);
        Files.writeString(fresh.resolve("x"), "new");
        OutputDirs.swapIn(fresh, out);
        assertEquals("new", Files.readString(out.resolve("x")));
        assertEquals(List.of(), hiddenSiblings(out));
    }

    @Test
    void outputMergeOverwriteNeverDeletesFilesPaftDidNotWriteNorAnInput() throws Exception {
        Path out = tmp.resolve("merged");
        String[] merge = {"merge", "--method", "linear", "--model", model + ":weight=1", "--out", out.toString()};
        assertEquals(0, Attack.cli(merge).code());
        Files.writeString(out.resolve("README.md"), "model card I wrote");
        String[] again =
                Stream.concat(Arrays.stream(merge), Stream.of("--overwrite")).toArray(String[]::new);
        Cli.Run r = Attack.cli(again);
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("README.md"), r.err());
        assertTrue(Files.isRegularFile(out.resolve("README.md")));
        Files.delete(out.resolve("README.md"));
        assertEquals(0, Attack.cli(again).code());
        assertEquals(List.of(), hiddenSiblings(out));
        // an output that contains an input
        r = Attack.cli(
                "merge",
                "--method",
                "linear",
                "--model",
                model + ":weight=1",
                "--out",
                model.getParent().toString(),
                "--overwrite");
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("contains the input"), r.err());
    }
}
