package dev.paft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.Futures;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.Json;
import dev.paft.testutil.Cli;
import dev.paft.train.MetricsLog;
import dev.paft.train.TensorBoardLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.FutureTask;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The error policy of docs/ARCHITECTURE.md ("Errors and exit codes"): a file operation that fails is exit 3
 * with one line "cannot ACTION PATH: REASON", never an internal error (1); work on other threads fails as it
 * would on this one; 130 is Ctrl-C and documented with the others.
 */
class ErrorPolicyTest {
    @TempDir
    Path tmp;

    /**
     * Writes under a regular file fail for every user (root included, unlike a read-only directory): each
     * writer the training loop and the pipeline use says exit 3, the path and the reason.
     */
    @Test
    void aWriteThatFailsDuringTheWorkIsExit3NamingTheFileAndTheReason() throws IOException {
        Path blocker = Files.writeString(tmp.resolve("blocker"), "a file, not a directory");
        Path out = blocker.resolve("out");
        assertIoFailure(
                () -> Json.write(out.resolve("a.json"), Map.of("a", 1)), "cannot write " + out.resolve("a.json"));
        assertIoFailure(() -> AtomicFiles.tempDirFor(out), "cannot create " + blocker.resolve(".out.tmp-"));
        assertIoFailure(() -> MetricsLog.open(out, -1).close(), "cannot write " + out.resolve(MetricsLog.FILE));
        assertIoFailure(
                () -> TensorBoardLog.open(out).close(), "cannot write TensorBoard events " + out.resolve("runs"));
    }

    private static void assertIoFailure(Executable call, String prefix) {
        PaftException e = assertThrows(PaftException.class, call);
        assertEquals(PaftException.BAD_INPUT, e.exitCode(), e.getMessage());
        assertTrue(e.getMessage().startsWith(prefix), e.getMessage() + "\n  expected to start with: " + prefix);
        assertTrue(e.getMessage().endsWith(": not a directory"), "the reason a user acts on: " + e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    /** An I/O exception that reaches the CLI unconverted (a library's UncheckedIOException) is still exit 3, one line. */
    @Test
    void anUnconvertedIoFailureReachingTheCliIsExit3() {
        Cli.Run r = PaftCliTest.run(
                withFailure(new UncheckedIOException(
                        "cannot write /out/.model.safetensors.tmp",
                        new FileSystemException("/out/.model.safetensors.tmp", null, "Read-only file system"))),
                "failing");
        assertEquals(3, r.code(), r.err());
        assertEquals(
                "paft failing: error: /out/.model.safetensors.tmp: read-only file system",
                r.err().strip());
        Cli.Run plain = PaftCliTest.run(
                withFailure(new UncheckedIOException(new IOException("Input/output error"))), "failing");
        assertEquals(3, plain.code(), plain.err());
        assertEquals(1, plain.err().strip().lines().count(), plain.err());
        Cli.Run bug = PaftCliTest.run(withFailure(new IllegalStateException("a bug")), "failing");
        assertEquals(1, bug.code(), "anything else stays an internal error with its trace");
        assertTrue(bug.err().contains("at dev.paft.cli.ErrorPolicyTest"), bug.err());
    }

    @CommandLine.Command(name = "failing")
    static final class Failing implements Callable<Integer> {
        final RuntimeException failure;

        Failing(RuntimeException failure) {
            this.failure = failure;
        }

        @Override
        public Integer call() {
            throw failure;
        }
    }

    private static CommandLine withFailure(RuntimeException e) {
        return Paft.commandLine().addSubcommand("failing", new Failing(e));
    }

    /** The one future-unwrapping helper: a task's exception arrives as thrown, exit code and all. */
    @Test
    void workOnAnotherThreadFailsAsOnThisOne() {
        PaftException nan = PaftException.numeric("merged tensor 'w' has NaN");
        CompletableFuture<Void> f = CompletableFuture.runAsync(() -> {
            throw nan;
        });
        assertSame(nan, assertThrows(PaftException.class, () -> Futures.get(f)));
        FutureTask<Integer> checked = new FutureTask<>(() -> {
            throw new Exception("checked");
        });
        checked.run();
        assertEquals(
                PaftException.INTERNAL,
                assertThrows(PaftException.class, () -> Futures.get(checked)).exitCode());
        CompletableFuture<Integer> never = new CompletableFuture<>();
        Thread.currentThread().interrupt();
        try {
            assertEquals(
                    PaftException.INTERRUPTED,
                    assertThrows(PaftException.class, () -> Futures.get(never)).exitCode());
            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt flag is kept");
        } finally {
            Thread.interrupted();
        }
        assertEquals(7, Futures.get(CompletableFuture.completedFuture(7)));
    }

    /** 130 is documented wherever the exit codes are listed. */
    @Test
    void exit130IsDocumentedWithTheOthers() throws IOException {
        Cli.Run help = PaftCliTest.run("--help");
        assertTrue(help.out().contains("130 interrupted (Ctrl-C)"), help.out());
        for (String doc : List.of("docs/USER-GUIDE.md", "docs/GUARANTEES.md", "docs/ARCHITECTURE.md", "README.md")) {
            String text = Files.readString(Path.of(doc));
            assertTrue(
                    Pattern.compile("130 interrupted|\\| 130 \\|").matcher(text).find(), doc + " lists exit 130");
        }
    }

    /** No code path turns a failed file operation into an internal error (exit 1) again. */
    @Test
    void noFileOperationFailureIsAnInternalError() throws IOException {
        Pattern internalIo =
                Pattern.compile("PaftException\\.INTERNAL,\\s*\"cannot (write|create|move|delete|append|copy|extract)");
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String text = Files.readString(f);
                if (internalIo.matcher(text).find()) {
                    found.add(f.toString());
                }
            }
        }
        assertTrue(found.isEmpty(), "exit 1 for a file operation (use PaftException.io, exit 3): " + found);
        assertFalse(Files.readString(Path.of("src/main/java/dev/paft/errors/PaftException.java"))
                .contains("notBuilt"));
    }
}
