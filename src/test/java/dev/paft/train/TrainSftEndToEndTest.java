package dev.paft.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.cli.Paft;
import dev.paft.io.PeftAdapter;
import dev.paft.testutil.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real train-sft CLI on a tiny random model: outputs, metrics, L1 sparsity effect, resume. */
class TrainSftEndToEndTest {
    static final Path DATA = Path.of("src/test/resources/train/data");
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void model() {
        model = TinyModels.demo(tmp.resolve("base"));
    }

    static String[] args(Path out, String... extra) {
        return args(model, out, extra);
    }

    /** train-sft of {@code base} on the test SFT data: 6 steps, eval every 3, checkpoint every 2. */
    static String[] args(Path base, Path out, String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("train-sft", "--model", base.toString(),
                "--train", DATA.resolve("sft_train.jsonl").toString(), "--eval", DATA.resolve("sft_eval.jsonl").toString(),
                "--output-dir", out.toString(), "--threads", "2", "--batch-size", "4", "--max-steps", "6",
                "--lr", "1e-2", "--lora-r", "4", "--lora-alpha", "8", "--max-length", "64",
                "--set", "training.log_steps=1", "--set", "training.eval_steps=3", "--set", "training.save_steps=2",
                "--set", "training.warmup_steps=1", "--set", "lora.dropout=0.1"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void trainsWritesAdapterMetricsAndCurve() throws Exception {
        Path out = tmp.resolve("sft");
        assertEquals(0, Paft.execute(args(out)));
        PeftAdapter adapter = PeftAdapter.read(out);
        assertEquals(4, adapter.config().r());
        assertTrue(Files.isRegularFile(out.resolve("loss.png")));
        assertTrue(Files.isRegularFile(out.resolve("training_config.yaml")));
        List<JsonNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertTrue(m.stream().anyMatch(r -> r.has("eval_loss")));
        JsonNode first = m.get(0);
        for (String k : List.of("step", "epoch", "learning_rate", "loss", "ce", "grad_norm", "tokens_per_s", "mean_token_accuracy", "num_tokens")) {
            assertTrue(first.has(k), "metrics lack " + k + ": " + first);
        }
        // a finished run is not overwritten silently
        assertEquals(2, Paft.execute(args(out)));
        assertEquals(0, Paft.execute(args(out, "--overwrite")));
    }

    @Test
    void resumeAfterSigkillIsBitExact() throws Exception {
        Path full = tmp.resolve("full");
        assertEquals(0, Paft.execute(args(full)));

        // The same run in a child JVM, killed with SIGKILL once its first checkpoint exists.
        Path part = tmp.resolve("part");
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"), "dev.paft.cli.Paft"));
        cmd.addAll(List.of(args(part)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + 300_000_000_000L;
        while (!Files.isDirectory(part.resolve("checkpoint-2")) && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        p.destroyForcibly().waitFor(); // SIGKILL on Linux
        assertTrue(Files.isDirectory(part.resolve("checkpoint-2")), "child never checkpointed: " + Files.readString(tmp.resolve("child.log")));
        assertTrue(!Files.exists(part.resolve("trainer_state.json")), "child finished before it was killed");

        assertEquals(0, Paft.execute(args(part, "--resume")));
        byte[] a = Files.readAllBytes(full.resolve("adapter_model.safetensors"));
        byte[] b = Files.readAllBytes(part.resolve("adapter_model.safetensors"));
        assertTrue(java.util.Arrays.equals(a, b), "resumed adapter differs from the uninterrupted one");
        // metrics read as one run: each step once
        List<JsonNode> m = MetricsLog.read(part.resolve("metrics.jsonl"));
        assertEquals(6, m.stream().filter(r -> r.has("loss") && !r.has("eval_loss")).count());
    }

    @Test
    void dryRunPrintsThePlanAndWritesNothing() {
        Path out = tmp.resolve("dry");
        assertEquals(0, Paft.execute(args(out, "--dry-run")));
        assertTrue(!Files.exists(out));
    }

    @Test
    void badDataLineExits3AndSkipCounts() throws Exception {
        Path bad = tmp.resolve("bad.jsonl");
        Files.writeString(bad, Files.readString(DATA.resolve("sft_train.jsonl")) + "{not json\n");
        String[] a = args(tmp.resolve("bad-out"));
        for (int i = 0; i < a.length; i++) {
            if (a[i].equals("--train")) {
                a[i + 1] = bad.toString();
            }
        }
        assertEquals(3, Paft.execute(a));
    }
}
