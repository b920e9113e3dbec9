package dev.paft.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.cli.Paft;
import dev.paft.io.PeftAdapter;
import dev.paft.testutil.DemoModelTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The real train-dpo CLI on a tiny random model: ln 2 at step 0, learning, ORPO, outputs. */
class TrainDpoEndToEndTest extends DemoModelTest {
    static final Path DATA = Path.of("src/test/resources/train/data");

    static String[] args(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of(
                "train-dpo",
                "--model",
                model.toString(),
                "--train",
                DATA.resolve("pref_train.jsonl").toString(),
                "--eval",
                DATA.resolve("pref_eval.jsonl").toString(),
                "--output-dir",
                out.toString(),
                "--threads",
                "2",
                "--batch-size",
                "4",
                "--lr",
                "2e-2",
                "--lora-r",
                "4",
                "--lora-alpha",
                "8",
                "--max-length",
                "64",
                "--max-prompt-length",
                "32",
                "--set",
                "training.log_steps=1",
                "--set",
                "training.warmup_ratio=0",
                "--set",
                "training.scheduler=constant",
                "--set",
                "lora.dropout=0.0"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void dpoStartsAtLn2AndLearnsThePreference() {
        Path out = tmp.resolve("dpo");
        assertEquals(0, Paft.execute(args(out, "--max-steps", "8", "--set", "training.eval_steps=8", "--beta", "0.5")));
        List<JsonNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
        JsonNode first = m.get(0);
        assertEquals(Math.log(2), first.get("loss").asDouble(), 1e-5, "DPO loss at step 0 (B = 0) must be ln 2");
        for (String k : List.of(
                "rewards/chosen",
                "rewards/rejected",
                "rewards/accuracies",
                "rewards/margins",
                "logps/chosen",
                "logps/rejected",
                "grad_norm",
                "learning_rate",
                "tokens_per_s",
                "logits/chosen",
                "logits/rejected",
                "num_tokens")) {
            assertTrue(first.has(k), "metrics lack " + k);
        }
        JsonNode lastEval = m.stream()
                .filter(r -> r.has("eval_rewards/accuracies"))
                .reduce((x, y) -> y)
                .orElseThrow();
        assertTrue(lastEval.get("eval_rewards/accuracies").asDouble() >= 0.9, "held-out reward accuracy: " + lastEval);
        assertTrue(lastEval.get("eval_rewards/margins").asDouble() > 0, "held-out margin: " + lastEval);
        assertTrue(Files.isRegularFile(out.resolve("loss.png")));
        assertEquals(4, PeftAdapter.read(out).config().r());
    }

    @Test
    void orpoTrainsWithoutReference() {
        Path out = tmp.resolve("orpo");
        assertEquals(
                0, Paft.execute(args(out, "--max-steps", "4", "--loss", "orpo", "--set", "training.eval_steps=0")));
        List<JsonNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertTrue(
                m.get(0).has("nll_loss") && m.get(0).has("log_odds_ratio"),
                m.get(0).toString());
        assertTrue(m.stream().anyMatch(r -> r.has("eval_loss")));
    }

    /**
     * preference.disable_dropout (default true, TRL's disable_dropout=True): with lora.dropout 0.5 the run is
     * bit-identical to one with lora.dropout 0 (the independent reference), yet adapter_config.json records 0.5,
     * as a TRL-trained adapter does; --no-disable-dropout trains with dropout and gives other numbers.
     */
    @Test
    void loraDropoutIsOffInPreferenceTrainingAsInTrl() {
        String[] common = {"--max-steps", "3", "--set", "training.eval_steps=0", "--beta", "0.5"};
        Path off = tmp.resolve("dropout-off");
        Path none = tmp.resolve("dropout-zero");
        Path on = tmp.resolve("dropout-on");
        assertEquals(0, Paft.execute(args(off, concat(common, "--set", "lora.dropout=0.5"))));
        assertEquals(0, Paft.execute(args(none, concat(common, "--set", "lora.dropout=0.0"))));
        assertEquals(0, Paft.execute(args(on, concat(common, "--set", "lora.dropout=0.5", "--no-disable-dropout"))));
        assertEquals(
                0.5, PeftAdapter.read(off).config().loraDropout(), "adapter_config.json keeps the configured rate");
        assertEquals(0.5, PeftAdapter.read(on).config().loraDropout());
        assertEquals(0.0, PeftAdapter.read(none).config().loraDropout());
        List<Double> lossOff = losses(off);
        List<Double> lossNone = losses(none);
        assertEquals(lossNone, lossOff, "dropout disabled must train exactly as lora.dropout = 0");
        var a = PeftAdapter.read(off).modules();
        var b = PeftAdapter.read(none).modules();
        for (String k : b.keySet()) {
            assertTrue(Arrays.equals(b.get(k).b().data(), a.get(k).b().data()), k);
        }
        // Step 1 has B = 0 (LoRA output 0 whatever the dropout); from step 2 on, dropout changes the numbers.
        List<Double> lossOn = losses(on);
        assertEquals(lossNone.get(0), lossOn.get(0));
        assertTrue(!lossNone.get(2).equals(lossOn.get(2)), "--no-disable-dropout must train with dropout: " + lossOn);
    }

    /**
     * Step-0 logps/chosen and logps/rejected on the demo model equal TRL's rule computed independently in PyTorch
     * (scripts/golden/pref_eos_demo.py): plain pairs with EOS appended, conversational pairs ending at the
     * template's end-of-turn token with nothing appended.
     */
    @Test
    void stepZeroLogpsMatchTrlTokenizationOnTheDemoModel() throws Exception {
        JsonNode golden = new ObjectMapper()
                .readTree(Path.of("src/test/resources/train/golden_pref_eos_demo.json")
                        .toFile());
        int n = golden.get("pairs").asInt();
        List<String> lines =
                Files.readAllLines(DATA.resolve("pref_train.jsonl")).subList(0, n);
        var mapper = new ObjectMapper();
        List<String> conv = new ArrayList<>();
        for (String l : lines) {
            JsonNode r = mapper.readTree(l);
            conv.add(mapper.writeValueAsString(Map.of(
                    "prompt",
                            List.of(Map.of(
                                    "role", "user", "content", r.get("prompt").asText())),
                    "chosen",
                            List.of(Map.of(
                                    "role",
                                    "assistant",
                                    "content",
                                    r.get("chosen").asText())),
                    "rejected",
                            List.of(Map.of(
                                    "role",
                                    "assistant",
                                    "content",
                                    r.get("rejected").asText())))));
        }
        for (String kind : List.of("plain", "conv")) {
            Path data = tmp.resolve("eos-" + kind + ".jsonl");
            Files.write(data, kind.equals("plain") ? lines : conv);
            Path out = tmp.resolve("eos-" + kind);
            assertEquals(
                    0,
                    Paft.execute(
                            "train-dpo",
                            "--model",
                            model.toString(),
                            "--train",
                            data.toString(),
                            "--output-dir",
                            out.toString(),
                            "--threads",
                            "2",
                            "--batch-size",
                            Integer.toString(n),
                            "--max-steps",
                            "1",
                            "--max-length",
                            "64",
                            "--max-prompt-length",
                            "32",
                            "--set",
                            "training.log_steps=1"));
            JsonNode first = MetricsLog.read(out.resolve("metrics.jsonl")).get(0);
            for (String k : List.of("logps/chosen", "logps/rejected")) {
                assertEquals(golden.get(kind).get(k).asDouble(), first.get(k).asDouble(), 1e-4, kind + " " + k);
            }
        }
    }

    private static List<Double> losses(Path out) {
        List<Double> l = new ArrayList<>();
        for (JsonNode r : MetricsLog.read(out.resolve("metrics.jsonl"))) {
            if (r.has("loss")) {
                l.add(r.get("loss").asDouble());
            }
        }
        return l;
    }

    private static String[] concat(String[] a, String... b) {
        List<String> l = new ArrayList<>(List.of(a));
        l.addAll(List.of(b));
        return l.toArray(String[]::new);
    }

    @Test
    void badPromptLengthIsAConfigError() {
        assertEquals(
                2,
                Paft.execute(args(
                        tmp.resolve("bad"), "--max-steps", "1", "--max-length", "16", "--max-prompt-length", "16")));
    }
}
