package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.io.OutputLock;
import dev.paft.testutil.Cli;
import dev.paft.testutil.DemoModelTest;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Issue 19 item 3: one process per output; the second exits 2 naming the holder; a killed holder never blocks. */
class OutputLockAttackTest extends DemoModelTest {
    @Test
    void outputLockedByAnotherProcessIsRefusedAndAKilledHolderNeverBlocks() throws Exception {
        Path out = tmp.resolve("contested");
        List<String> cmd = List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                LockHolder.class.getName(),
                out.toString());
        Process holder = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            String line = new BufferedReader(new InputStreamReader(holder.getInputStream())).readLine();
            assertTrue(line != null && line.startsWith("locked "), "holder: " + line);
            long pid = holder.pid();
            Cli.Run r = Attack.cli(Attack.sft(model, out));
            assertEquals(2, r.code(), r.all());
            assertTrue(r.err().contains("is being written by another paft process (PID " + pid + ")"), r.err());
            assertTrue(!Files.exists(out.resolve("metrics.jsonl")), "nothing written by the refused run");
            // SIGKILL: the OS drops the lock with the process; the lock file stays and must not block
            holder.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            assertTrue(Files.exists(OutputLock.lockFileOf(out)));
            r = Attack.cli(Attack.sft(model, out));
            assertEquals(0, r.code(), r.all());
        } finally {
            holder.destroyForcibly();
        }
    }

    @Test
    void outputLockCoversTrainingMergeRunEvalAndReportOutputs() throws Exception {
        long me = ProcessHandle.current().pid();
        Path out = tmp.resolve("busy");
        try (OutputLock held = OutputLock.acquire(out)) {
            Cli.Run r = Attack.cli(Attack.sft(model, out));
            assertEquals(2, r.code(), r.all());
            assertTrue(r.err().contains("(PID " + me + ")"), r.err());
            r = Attack.cli("merge", "--method", "linear", "--model", model + ":weight=1", "--out", out.toString());
            assertEquals(2, r.code(), r.all());
            assertTrue(r.err().contains("is being written by another paft process"), r.err());
            Path cfg = Files.writeString(
                    tmp.resolve("run.yaml"),
                    "model:\n  path: " + model + "\nrun:\n  sft:\n    data: {train: "
                            + Attack.DATA.resolve("sft_train.jsonl").toAbsolutePath()
                            + "}\n  preference:\n    data: {train: "
                            + Attack.DATA.resolve("pref_train.jsonl").toAbsolutePath() + "}\n");
            r = Attack.cli("run", "--config", cfg.toString(), "-o", out.toString());
            assertEquals(2, r.code(), r.all());
            assertTrue(r.err().contains("is being written by another paft process"), r.err());
        }
        Path json = tmp.resolve("results.json");
        try (OutputLock held = OutputLock.acquire(json)) {
            Cli.Run r = Attack.cli(
                    "eval",
                    "--model",
                    model.toString(),
                    "--ppl",
                    Attack.DATA.resolve("sft_eval.jsonl").toString(),
                    "--output-json",
                    json.toString());
            assertEquals(2, r.code(), r.all());
            assertTrue(r.err().contains("is being written by another paft process"), r.err());
        }
        Path table = tmp.resolve("report.txt");
        Path adapter = tmp.resolve("adapter");
        assertEquals(0, Attack.cli(Attack.sft(model, adapter)).code());
        try (OutputLock held = OutputLock.acquire(table)) {
            Cli.Run r = Attack.cli("sparsity-report", adapter.toString(), "--output", table.toString());
            assertEquals(2, r.code(), r.all());
            assertTrue(r.err().contains("is being written by another paft process"), r.err());
        }
        assertEquals(
                0,
                Attack.cli("sparsity-report", adapter.toString(), "--output", table.toString())
                        .code(),
                "released");
    }
}
