package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.cli.Paft;
import dev.paft.testutil.Cli;
import dev.paft.testutil.DemoModelTest;
import dev.paft.train.TrainState;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Ctrl-C (a real SIGINT to a real paft process) during a train-sft --overwrite: once a step finished, the paused run
 * with its checkpoint takes the old run's place and continues with --resume; it is never thrown away.
 */
class OverwriteInterruptAttackTest extends DemoModelTest {
    @Test
    void ctrlCDuringAnOverwriteRunReplacesTheOldRunWithThePausedOneWhichResumes() throws Exception {
        Path out = tmp.resolve("paused");
        assertEquals(0, Attack.cli(Attack.sft(model, out)).code());
        assertTrue(TrainState.isFinished(out));

        List<String> cmd = new ArrayList<>(List.of(
                // SIGINT at its default disposition in the child, even where this JVM was started with it ignored
                "env",
                "--default-signal=INT",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                Paft.class.getName()));
        cmd.addAll(List.of(Attack.sft(model, out, "--overwrite", "--max-steps", "100000")));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuffer log = new StringBuffer();
        CountDownLatch stepped = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader r =
                    new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    log.append(line).append('\n');
                    if (line.contains("step 3/100000")) {
                        stepped.countDown();
                    }
                }
            } catch (Exception e) {
                log.append(e);
            }
        });
        reader.start();
        try {
            assertTrue(stepped.await(120, TimeUnit.SECONDS), "no step 3 within 120 s:\n" + log);
            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start();
            assertEquals(0, kill.waitFor());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "still running after SIGINT:\n" + log);
            reader.join(10_000);
        } finally {
            p.destroyForcibly();
        }
        String all = log.toString();
        assertEquals(130, p.exitValue(), all);
        assertTrue(all.contains("this run then takes the place of the previous run in " + out), all);
        assertTrue(
                all.contains("; this run replaced the previous run in " + out + " (--overwrite); continue it"
                        + " with --resume"),
                all);
        assertFalse(TrainState.isFinished(out), "the old finished run was replaced");
        List<Path> checkpoints;
        try (Stream<Path> s = Files.list(out)) {
            checkpoints = s.filter(f -> f.getFileName().toString().startsWith("checkpoint-"))
                    .sorted()
                    .toList();
        }
        assertFalse(checkpoints.isEmpty(), all);
        Path last = checkpoints.stream()
                .max((a, b) -> Integer.compare(
                        TrainState.read(a).orElseThrow().step(),
                        TrainState.read(b).orElseThrow().step()))
                .orElseThrow();
        int step = TrainState.read(last).orElseThrow().step();
        assertTrue(step >= 3, last.toString());
        assertTrue(all.contains("checkpoint saved at " + last), all);
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(
                    List.of(),
                    s.filter(f -> f.getFileName().toString().startsWith(".paused.tmp-"))
                            .toList(),
                    "no hidden run left");
        }

        // the paused run goes on with --resume
        Cli.Run r = Attack.cli(Attack.sft(model, out, "--resume", "--max-steps", Integer.toString(step + 2)));
        assertEquals(0, r.code(), r.all());
        assertEquals(step + 2, TrainState.read(out).orElseThrow().step());
        assertTrue(TrainState.isFinished(out));
    }
}
