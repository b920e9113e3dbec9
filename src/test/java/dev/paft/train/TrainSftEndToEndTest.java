package dev.paft.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.cli.Paft;
import dev.paft.io.PeftAdapter;
import dev.paft.testutil.DemoModelTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The real train-sft CLI on a tiny random model: outputs, metrics, L1 sparsity effect, resume. */
class TrainSftEndToEndTest extends DemoModelTest {
    static final Path DATA = Path.of("src/test/resources/train/data");

    static String[] args(Path out, String... extra) {
        return args(model, out, extra);
    }

    /** train-sft of {@code base} on the test SFT data: 6 steps, eval every 3, checkpoint every 2. */
    static String[] args(Path base, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of(
                "train-sft",
                "--model",
                base.toString(),
                "--train",
                DATA.resolve("sft_train.jsonl").toString(),
                "--eval",
                DATA.resolve("sft_eval.jsonl").toString(),
                "--output-dir",
                out.toString(),
                "--threads",
                "2",
                "--batch-size",
                "4",
                "--max-steps",
                "6",
                "--lr",
                "1e-2",
                "--lora-r",
                "4",
                "--lora-alpha",
                "8",
                "--max-length",
                "64",
                "--set",
                "training.log_steps=1",
                "--set",
                "training.eval_steps=3",
                "--set",
                "training.save_steps=2",
                "--set",
                "training.warmup_steps=1",
                "--set",
                "lora.dropout=0.1"));
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
        for (String k : List.of(
                "step",
                "epoch",
                "learning_rate",
                "loss",
                "ce",
                "grad_norm",
                "tokens_per_s",
                "mean_token_accuracy",
                "num_tokens")) {
            assertTrue(first.has(k), "metrics lack " + k + ": " + first);
        }
        // a finished run is not overwritten silently
        assertEquals(2, Paft.execute(args(out)));
        assertEquals(0, Paft.execute(args(out, "--overwrite")));
    }

    /**
     * training.precision: bf16 through the CLI (bf16 decoder, f32 LoRA factors, AdamW state and losses): the
     * first step's loss within 1e-2 relative of fp32's, the run trains (loss falls), the adapter is float32, and a
     * bad value is a config error (exit 2).
     */
    @Test
    void bf16PrecisionTrainsLikeFp32() throws Exception {
        Path f32 = tmp.resolve("sft-fp32");
        Path bf16 = tmp.resolve("sft-bf16");
        assertEquals(0, Paft.execute(args(f32, "--set", "training.precision=fp32")));
        assertEquals(0, Paft.execute(args(bf16, "--set", "training.precision=bf16")));
        List<JsonNode> a = MetricsLog.read(f32.resolve("metrics.jsonl"));
        List<JsonNode> b = MetricsLog.read(bf16.resolve("metrics.jsonl"));
        double l32 = a.get(0).get("loss").asDouble();
        double l16 = b.get(0).get("loss").asDouble();
        assertTrue(Math.abs(l16 - l32) / l32 < 1e-2, "first-step loss bf16 " + l16 + " vs fp32 " + l32);
        assertTrue(l16 != l32, "bf16 ran in bf16");
        double last = b.stream()
                .filter(r -> r.has("loss"))
                .reduce((x, y) -> y)
                .orElseThrow()
                .get("loss")
                .asDouble();
        assertTrue(last < l16, "bf16 training lowers the loss: " + l16 + " -> " + last);
        assertTrue(Files.readString(bf16.resolve("training_config.yaml")).matches("(?s).*precision: \"?bf16.*"));
        PeftAdapter.read(bf16);
        assertEquals(2, Paft.execute(args(tmp.resolve("sft-bad"), "--set", "training.precision=fp16")));
    }

    @Test
    void resumeAfterSigkillIsBitExact() throws Exception {
        Path full = tmp.resolve("full");
        assertEquals(0, Paft.execute(args(full)));

        // The same run in a child JVM, killed with SIGKILL once its first checkpoint exists.
        Path part = tmp.resolve("part");
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.paft.cli.Paft"));
        cmd.addAll(List.of(args(part)));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("child.log").toFile())
                .start();
        long deadline = System.nanoTime() + 300_000_000_000L;
        while (!Files.isDirectory(part.resolve("checkpoint-2")) && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        p.destroyForcibly().waitFor(); // SIGKILL on Linux
        assertTrue(
                Files.isDirectory(part.resolve("checkpoint-2")),
                "child never checkpointed: " + Files.readString(tmp.resolve("child.log")));
        assertTrue(!Files.exists(part.resolve("trainer_state.json")), "child finished before it was killed");

        assertEquals(0, Paft.execute(args(part, "--resume")));
        byte[] a = Files.readAllBytes(full.resolve("adapter_model.safetensors"));
        byte[] b = Files.readAllBytes(part.resolve("adapter_model.safetensors"));
        assertTrue(Arrays.equals(a, b), "resumed adapter differs from the uninterrupted one");
        // metrics read as one run: each step once
        List<JsonNode> m = MetricsLog.read(part.resolve("metrics.jsonl"));
        assertEquals(
                6, m.stream().filter(r -> r.has("loss") && !r.has("eval_loss")).count());
    }

    @Test
    void dryRunPrintsThePlanAndWritesNothing() {
        Path out = tmp.resolve("dry");
        assertEquals(0, Paft.execute(args(out, "--dry-run")));
        assertTrue(!Files.exists(out));
    }

    /**
     * A dry run plans for the device named, without a GPU or an engine for it: a CUDA plan on this CPU machine checks
     * the estimate against the GPU's memory (unknown here), not the CPU's; exit 0 even with the CPU-only jar.
     */
    @Test
    void dryRunPlansForTheDeviceNamed() {
        Path out = tmp.resolve("dry-cuda");
        String[] cuda = dryRun(args(out, "--dry-run", "--device", "cuda"));
        assertEquals("0", cuda[0], cuda[1]);
        assertTrue(cuda[1].contains("device cuda:0: "), cuda[1]);
        assertTrue(!cuda[1].contains("device cpu: "), cuda[1]);
        assertTrue(!Files.exists(out));
        String[] cpu = dryRun(args(out, "--dry-run", "--device", "cpu"));
        assertTrue(cpu[1].contains("device cpu: "), cpu[1]);
    }

    /** Exit code and stdout of a dry run (the plan prints to System.out). */
    private static String[] dryRun(String[] a) {
        java.io.PrintStream old = System.out;
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        try {
            System.setOut(new java.io.PrintStream(buf, true, java.nio.charset.StandardCharsets.UTF_8));
            int code = Paft.execute(a);
            return new String[] {Integer.toString(code), buf.toString(java.nio.charset.StandardCharsets.UTF_8)};
        } finally {
            System.setOut(old);
        }
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
