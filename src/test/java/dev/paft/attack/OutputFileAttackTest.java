package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.io.OutputFiles;
import dev.paft.testutil.Cli;
import dev.paft.testutil.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 19 item 15: an output file that cannot be written is one line, exit 2, before any work. */
class OutputFileAttackTest {
    @TempDir
    Path tmp;

    @Test
    void outputFileUnderARegularFileIsRefusedBeforeTheWork() throws Exception {
        Path model = TinyModels.demo(tmp.resolve("base"));
        Path blocker = Files.writeString(tmp.resolve("blocker"), "a file, not a directory");
        Cli.Run r = Attack.cli(
                "eval",
                "--model",
                model.toString(),
                "--ppl",
                Attack.DATA.resolve("sft_eval.jsonl").toString(),
                "--output-json",
                blocker.resolve("results.json").toString());
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("--output-json " + blocker.resolve("results.json")), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(!r.out().contains("perplexity"), "no evaluation ran: " + r.out());

        Path adapter = tmp.resolve("no-such-adapter-needed");
        r = Attack.cli(
                "sparsity-report",
                model.toString(),
                "--output",
                blocker.resolve("t.txt").toString());
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("--output " + blocker.resolve("t.txt")), r.err());
        assertTrue(!Files.exists(adapter));
    }

    @Test
    void outputFileInAReadOnlyDirectoryIsRefusedBeforeTheWork() throws Exception {
        Path ro = Files.createDirectories(tmp.resolve("ro"));
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            Assumptions.assumeFalse(Files.isWritable(ro), "running as root: permissions do not stop writes");
            Cli.Run r = Attack.cli(
                    "sparsity-report",
                    TinyModels.DEMO_MODEL.toString(),
                    "--output",
                    ro.resolve("t.txt").toString());
            assertEquals(2, r.code(), r.all());
            assertTrue(r.err().contains("permission denied"), r.err());
        } finally {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void outputDiskFullIsNamedAsSuch() {
        FileSystemException full =
                new FileSystemException("/data/run/adapter_model.safetensors", null, "No space left on device");
        RuntimeException wrapped = new UncheckedIOException(new IOException("write failed", full));
        assertTrue(OutputFiles.isDiskFull(wrapped));
        assertEquals("no space left on device", OutputFiles.reason(wrapped));
        assertEquals("/data/run/adapter_model.safetensors", OutputFiles.fileOf(wrapped));
        assertEquals(
                "read-only file system",
                OutputFiles.reason(new FileSystemException("/x", null, "Read-only file system")));
        assertTrue(!OutputFiles.isDiskFull(new IOException("Input/output error")));
        assertTrue(Set.of("no space left on device")
                .contains(OutputFiles.reason(new IOException("No space left on device"))));
    }
}
