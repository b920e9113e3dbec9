package dev.paft.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.cli.Paft;
import dev.paft.config.ConfigLoader;
import dev.paft.config.PaftConfig;
import dev.paft.config.RunConfig;
import dev.paft.eval.EvalSuite;
import dev.paft.io.Json;
import dev.paft.io.WeightStorage;
import dev.paft.testutil.EvalFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code paft eval} and {@code paft run}'s comparison are one suite: the same model, adapter and config
 * give the same numbers, bit for bit, through both. The config holds the weights as bf16 and a batch of 3,
 * which the comparison used to ignore (it loaded f32 and batched 32); that bf16 changes the numbers is
 * checked too, so the equality is not one that holds whatever the settings.
 */
class SharedEvalSuiteTest {
    @TempDir
    Path tmp;

    static final Path SFT = EvalFixtures.RESOURCES.resolve("sft.jsonl");
    static final Path PREFS = EvalFixtures.RESOURCES.resolve("prefs.jsonl");
    static final Path MC = EvalFixtures.RESOURCES.resolve("mc.jsonl");

    @Test
    void evalCommandAndRunComparisonGiveIdenticalNumbers() throws Exception {
        Path base = EvalFixtures.model(tmp.resolve("base"), 21);
        Path adapter = EvalFixtures.adapter(tmp.resolve("adapter"), 4);
        Path bf16 = Files.writeString(tmp.resolve("bf16.yaml"), """
                model: {dtype: bf16}
                data: {max_length: 48, max_prompt_length: 16}
                preference: {beta: 0.2}
                """);

        Map<String, Double> cli = evalCommand(bf16, base, adapter, "bf16");
        PaftConfig root = ConfigLoader.load(bf16, List.of(), Map.of("model.path", base.toString()));
        EvalSuite suite = Comparison.suite(
                new RunConfig.RunEval(SFT.toString(), PREFS.toString(), List.of(MC.toString()), 0.2, 3), root);
        assertEquals(WeightStorage.BF16, suite.settings().storage(), "the run's suite reads model.dtype");
        assertEquals(3, suite.settings().options().batchSize());
        List<Comparison.Row> rows = Comparison.evaluate(
                List.of(new Candidate("SFT", "sft", base, adapter)),
                base,
                suite,
                EvalFixtures.cpu(),
                tmp.resolve("eval"),
                s -> {});
        Map<String, Double> run = rows.get(0).metrics();

        assertEquals(cli.keySet(), run.keySet());
        for (String k : cli.keySet()) {
            assertEquals(cli.get(k), run.get(k), k + ": paft eval and paft run disagree");
        }
        assertTrue(Double.isFinite(run.get("sft/ppl")) && Double.isFinite(run.get("pref/margin")), run.toString());

        Path f32 = Files.writeString(
                tmp.resolve("f32.yaml"), Files.readString(bf16).replace("bf16", "f32"));
        Map<String, Double> wide = evalCommand(f32, base, adapter, "f32");
        assertNotEquals(
                wide.get("sft/ppl"), cli.get("sft/ppl"), "model.dtype changes the numbers, so it had to be honoured");
    }

    /** {@code paft eval} on the CLI, its JSON read back under the comparison's metric keys. */
    private Map<String, Double> evalCommand(Path config, Path base, Path adapter, String tag) throws Exception {
        Path out = tmp.resolve("eval-" + tag + ".json");
        int code = Paft.execute(
                "eval",
                "--config",
                config.toString(),
                "--model",
                base.toString(),
                "--adapter",
                adapter.toString(),
                "--ppl",
                SFT.toString(),
                "--prefs",
                PREFS.toString(),
                "--ref-model",
                base.toString(),
                "--mc",
                MC.toString(),
                "--batch-size",
                "3",
                "--threads",
                "1",
                "--format",
                "json",
                "--output-json",
                out.toString());
        assertEquals(0, code);
        JsonNode j = Json.readObject(out);
        Map<String, Double> m = new LinkedHashMap<>();
        j.path("multiple_choice").fields().forEachRemaining(e -> {
            m.put(e.getKey() + "/acc", e.getValue().path("acc").asDouble());
            m.put(e.getKey() + "/acc_norm", e.getValue().path("acc_norm").asDouble());
        });
        m.put("pref/reward_acc", j.path("preference").path("reward_accuracy").asDouble());
        m.put("pref/margin", j.path("preference").path("reward_margin").asDouble());
        m.put("pref/logp_acc", j.path("preference").path("logp_accuracy").asDouble());
        m.put("sft/ppl", j.path("perplexity").path("perplexity").asDouble());
        return m;
    }
}
