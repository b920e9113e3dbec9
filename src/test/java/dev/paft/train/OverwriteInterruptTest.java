package dev.paft.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.config.ConfigLoader;
import dev.paft.config.PaftConfig;
import dev.paft.errors.PaftException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rule behind a Ctrl-C in an --overwrite run ({@link RunDirectory#train}): after at least one optimizer step
 * finished the paused run takes the old run's place; before, the old run is kept. (The real-SIGINT case through the
 * CLI is {@code dev.paft.attack.OverwriteInterruptAttackTest}.)
 */
class OverwriteInterruptTest {
    @TempDir
    Path tmp;

    /** A finished run in {@code out} (only its state file: enough for --overwrite to build beside it). */
    private RunDirectory overwriting(Path out) throws Exception {
        Files.createDirectories(out);
        Files.writeString(
                out.resolve(TrainState.FILE),
                "{\"step\":4,\"totalSteps\":4,\"epoch\":0," + "\"microBatch\":4,\"tokens\":268,\"finished\":true}");
        PaftConfig cfg = ConfigLoader.load(null, List.of(), Map.of("training.output_dir", out.toString()));
        RunDirectory dir = RunDirectory.open(cfg, out, false, true, false, null);
        assertTrue(dir.isStaging());
        return dir;
    }

    private static Path checkpoint(Path work, int step) throws Exception {
        Path ck = Files.createDirectories(work.resolve("checkpoint-" + step));
        Files.writeString(
                ck.resolve(TrainState.FILE),
                "{\"step\":" + step + ",\"totalSteps\":9,\"epoch\":0," + "\"microBatch\":" + step
                        + ",\"tokens\":9,\"finished\":false}");
        return ck;
    }

    @Test
    void ctrlCBeforeTheFirstStepFinishedKeepsTheOldRun() throws Exception {
        Path out = tmp.resolve("run");
        String old;
        Path work;
        try (RunDirectory dir = overwriting(out)) {
            old = Files.readString(out.resolve(TrainState.FILE));
            work = dir.workDir();
            Path ck = checkpoint(work, 1); // the step running when Ctrl-C came finished and was saved
            PaftException e = assertThrows(
                    PaftException.class,
                    () -> dir.train(() -> {
                        throw new TrainingLoop.Interrupted(ck, 0);
                    }));
            assertEquals(130, e.exitCode());
            assertTrue(
                    e.getMessage()
                            .contains("before the first optimizer step finished: the new run was discarded;"
                                    + " the previous run in " + out + " is unchanged"),
                    e.getMessage());
        }
        assertEquals(old, Files.readString(out.resolve(TrainState.FILE)));
        assertFalse(Files.exists(out.resolve("checkpoint-1")));
        assertFalse(Files.exists(work), "the discarded run is removed");
    }

    @Test
    void ctrlCAfterAStepFinishedSwapsThePausedRunIn() throws Exception {
        Path out = tmp.resolve("run");
        Path work;
        try (RunDirectory dir = overwriting(out)) {
            work = dir.workDir();
            Path ck = checkpoint(work, 3);
            PaftException e = assertThrows(
                    PaftException.class,
                    () -> dir.train(() -> {
                        throw new TrainingLoop.Interrupted(ck, 2);
                    }));
            assertEquals(130, e.exitCode());
            assertEquals(
                    "interrupted: checkpoint saved at " + out.resolve("checkpoint-3")
                            + "; this run replaced the previous run in " + out
                            + " (--overwrite); continue it with --resume",
                    e.getMessage());
        }
        assertFalse(Files.exists(out.resolve(TrainState.FILE)), "the old finished run is gone");
        assertEquals(
                3, TrainState.read(out.resolve("checkpoint-3")).orElseThrow().step());
        assertFalse(Files.exists(work));
    }

    @Test
    void otherFailuresOfAnOverwriteRunStillKeepTheOldRun() throws Exception {
        Path out = tmp.resolve("run");
        String old;
        try (RunDirectory dir = overwriting(out)) {
            old = Files.readString(out.resolve(TrainState.FILE));
            checkpoint(dir.workDir(), 2);
            PaftException e = assertThrows(
                    PaftException.class,
                    () -> dir.train(() -> {
                        throw PaftException.numeric("non-finite loss (NaN) at step 3");
                    }));
            assertEquals(4, e.exitCode());
            assertTrue(e.getMessage().contains("previous run in " + out + " is unchanged"), e.getMessage());
        }
        assertEquals(old, Files.readString(out.resolve(TrainState.FILE)));
        assertFalse(Files.exists(out.resolve("checkpoint-2")));
    }
}
