package dev.paft.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.testutil.Cli;
import dev.paft.testutil.Cli.Run;
import dev.paft.testutil.EvalFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code paft eval} and {@code paft generate} end to end on the tiny model: outputs and exit codes. */
class EvalCliTest {

    @TempDir
    static Path tmp;

    static String model;
    static String adapter;
    static final Path RES = EvalFixtures.RESOURCES;

    @BeforeAll
    static void write() {
        model = EvalFixtures.model(tmp.resolve("model"), 21).toString();
        adapter = EvalFixtures.adapter(tmp.resolve("adapter"), 4).toString();
    }

    static Run run(String... args) {
        return Cli.paft(args);
    }

    @Test
    void evalEveryTaskTableAndJson() throws Exception {
        Path scores = tmp.resolve("scores.jsonl");
        Path json = tmp.resolve("eval.json");
        Run r = run(
                "eval",
                "--model",
                model,
                "--adapter",
                adapter,
                "--threads",
                "2",
                "--loglik",
                RES.resolve("loglik.jsonl").toString(),
                "--output",
                scores.toString(),
                "--ppl",
                RES.resolve("sft.jsonl").toString(),
                "--prefs",
                RES.resolve("prefs.jsonl").toString(),
                "--beta",
                "0.2",
                "--mc",
                RES.resolve("mc.jsonl").toString(),
                "--mc",
                RES.resolve("mc.jsonl").toString(),
                "--output-json",
                json.toString());
        assertEquals(0, r.code(), r.err());
        for (String s : new String[] {
            "mean_nll", "perplexity", "reward_accuracy", "adapter_disabled", "logp_accuracy", "acc_norm", "mc-2"
        }) {
            assertTrue(r.out().contains(s), s + " in:\n" + r.out());
        }
        List<String> lines = Files.readAllLines(scores);
        assertEquals(5, lines.size());
        JsonNode first = new ObjectMapper().readTree(lines.get(0));
        assertTrue(
                first.get("sum_logprob").asDouble() < 0 && first.get("tokens").asInt() > 0, lines.get(0));
        JsonNode j = new ObjectMapper().readTree(json.toFile());
        double nll = j.at("/loglik/mean_nll").asDouble();
        assertEquals(Math.exp(nll), j.at("/loglik/perplexity").asDouble(), 1e-9 * Math.exp(nll));
        assertEquals(0.2, j.at("/preference/beta").asDouble(), 0);
        assertEquals(3, j.at("/multiple_choice/mc/questions").asInt());
        assertTrue(r.out().contains(String.format(Locale.ROOT, "%.4f", nll)), r.out());
    }

    @Test
    void evalMergedStyleWithRefModelAsJson() throws Exception {
        Run r = run(
                "eval",
                "--model",
                model,
                "--prefs",
                RES.resolve("prefs.jsonl").toString(),
                "--ref-model",
                model,
                "--format",
                "json",
                "--max-length",
                "128");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("model", j.at("/preference/reference").asText());
        assertEquals(0.0, j.at("/preference/reward_margin").asDouble(), 0, "a model against itself");
        // without any reference only the reference-free metrics are defined
        Run none = run(
                "eval", "--model", model, "--prefs", RES.resolve("prefs.jsonl").toString(), "--format", "json");
        assertEquals(0, none.code(), none.err());
        JsonNode n = new ObjectMapper().readTree(none.out());
        assertTrue(n.at("/preference/reward_accuracy").isNull());
        assertTrue(n.at("/preference/logp_accuracy").isNumber());
    }

    @Test
    void evalExitCodes() {
        // usage: unknown flag, nothing to do, --output without --loglik, bad format
        assertEquals(2, run("eval", "--model", model, "--no-such-flag").code());
        assertEquals(2, run("eval", "--model", model).code());
        assertEquals(
                2,
                run("eval", "--model", model, "--ppl", "x.jsonl", "--output", "o.jsonl")
                        .code());
        assertEquals(
                2,
                run("eval", "--model", model, "--mc", "x.jsonl", "--format", "csv")
                        .code());
        assertEquals(2, run("eval", "--mc", RES.resolve("mc.jsonl").toString()).code(), "no model");
        // bad input: missing files, malformed records (file:line), missing model directory
        Run missing =
                run("eval", "--model", model, "--mc", tmp.resolve("nope.jsonl").toString());
        assertEquals(3, missing.code(), missing.err());
        assertTrue(missing.err().contains("nope.jsonl"), missing.err());
        Run bad = run(
                "eval",
                "--model",
                model,
                "--mc",
                RES.resolve("mc_bad_gold.jsonl").toString());
        assertEquals(3, bad.code(), bad.err());
        assertTrue(bad.err().contains("mc_bad_gold.jsonl:2:"), bad.err());
        Run badLl = run(
                "eval",
                "--model",
                model,
                "--loglik",
                RES.resolve("loglik_bad.jsonl").toString());
        assertEquals(3, badLl.code(), badLl.err());
        assertTrue(badLl.err().contains("loglik_bad.jsonl:2:"), badLl.err());
        assertEquals(
                3,
                run(
                                "eval",
                                "--model",
                                tmp.resolve("no-model").toString(),
                                "--mc",
                                RES.resolve("mc.jsonl").toString())
                        .code());
        assertEquals(
                3,
                run(
                                "eval",
                                "--model",
                                model,
                                "--adapter",
                                tmp.resolve("no-adapter").toString(),
                                "--mc",
                                RES.resolve("mc.jsonl").toString())
                        .code());
    }

    @Test
    void generateGreedySampledAndChat() throws Exception {
        Run g = run(
                "generate",
                "--model",
                model,
                "--adapter",
                adapter,
                "--prompt",
                "Once upon a time",
                "--prompt",
                "Hello",
                "--max-new-tokens",
                "5",
                "--format",
                "json");
        assertEquals(0, g.code(), g.err());
        String[] lines = g.out().strip().split("\n");
        assertEquals(2, lines.length, g.out());
        JsonNode first = new ObjectMapper().readTree(lines[0]);
        assertEquals("Once upon a time", first.get("prompt").asText());
        assertTrue(first.get("tokens").asInt() <= 5);
        assertEquals(
                g.out(),
                run(
                                "generate",
                                "--model",
                                model,
                                "--adapter",
                                adapter,
                                "--prompt",
                                "Once upon a time",
                                "--prompt",
                                "Hello",
                                "--max-new-tokens",
                                "5",
                                "--format",
                                "json")
                        .out(),
                "greedy is deterministic");
        String[] sample = {
            "generate",
            "--model",
            model,
            "--prompts",
            RES.resolve("prompts.jsonl").toString(),
            "--chat",
            "--temperature",
            "0.8",
            "--top-p",
            "0.9",
            "--seed",
            "5",
            "--max-new-tokens",
            "6"
        };
        Run s1 = run(sample);
        assertEquals(0, s1.code(), s1.err());
        assertTrue(s1.out().contains("=== prompt 2") && s1.out().contains("--- completion"), s1.out());
        assertEquals(s1.out(), run(sample).out(), "seeded sampling is reproducible");
    }

    @Test
    void generateExitCodes() {
        assertEquals(2, run("generate", "--model", model).code(), "no prompt");
        assertEquals(
                2,
                run("generate", "--model", model, "--prompt", "x", "--top-p", "1.5")
                        .code());
        assertEquals(
                2,
                run("generate", "--model", model, "--prompt", "x", "--max-new-tokens", "zero")
                        .code());
        assertEquals(
                3,
                run(
                                "generate",
                                "--model",
                                model,
                                "--prompts",
                                tmp.resolve("none.jsonl").toString())
                        .code());
        Path bad = tmp.resolve("bad_prompts.jsonl");
        LogLikelihoodTest.writeQuietly(
                bad, "{\"prompt\": \"ok\"}\n{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n");
        Run r = run("generate", "--model", model, "--prompts", bad.toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("bad_prompts.jsonl:2:") && r.err().contains("robot"), r.err());
    }
}
