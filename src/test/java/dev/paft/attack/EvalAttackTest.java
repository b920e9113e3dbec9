package dev.paft.attack;

import static dev.paft.attack.AttackInputs.paft;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.testutil.Cli.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NaN/Inf weights and out-of-vocabulary token ids in eval, generate and training (issue 19 items 5 and 14):
 * non-finite weights are exit 4 at load naming the tensor, a forward pass that overflows is exit 4 naming
 * what went non-finite (no "n/a" perplexity, no plausible accuracy, no empty generation), and a token id
 * at or above vocab_size is exit 3 naming the token and the sizes.
 */
class EvalAttackTest {
    @TempDir
    static Path tmp;

    static Path nan;
    static Path overflow;
    static final String SFT = AttackInputs.DEMO_DATA.resolve("sft_test.jsonl").toString();
    static final String MC = AttackInputs.DEMO_DATA.resolve("task_mc.jsonl").toString();
    static final String PREFS =
            AttackInputs.DEMO_DATA.resolve("pref_test.jsonl").toString();
    static final String TENSOR = "model.layers.1.mlp.up_proj.weight";

    @BeforeAll
    static void models() {
        nan = AttackInputs.demo(tmp.resolve("nan"), c -> {});
        AttackInputs.poke(nan.resolve("model.safetensors"), TENSOR, 17, Float.NaN);
        // finite weights whose forward overflows: a final norm of 3e38 sends the logits to +-Inf
        overflow = AttackInputs.demo(tmp.resolve("overflow"), c -> {});
        AttackInputs.fill(overflow.resolve("model.safetensors"), "model.norm.weight", 3e38f);
    }

    static void assertNumeric(Run r, String... parts) {
        assertEquals(4, r.code(), r.err() + r.out());
        for (String p : parts) {
            assertTrue(r.err().contains(p), p + " in: " + r.err());
        }
        assertEquals(1, r.errLines(), r.err());
        assertFalse(r.out().contains("n/a"), r.out());
    }

    @Test
    void nanWeightIsExit4AtLoadNamingTheTensor() {
        String[] parts = {nan + ": tensor '" + TENSOR + "' holds NaN at element 17", "base model weights are not finite"
        };
        assertNumeric(paft("eval", "--model", nan.toString(), "--ppl", SFT), parts);
        assertNumeric(paft("eval", "--model", nan.toString(), "--mc", MC), parts);
        assertNumeric(paft("generate", "--model", nan.toString(), "--prompt", "what does adam like to eat ?"), parts);
        // training blames the base weights, before any step (not the learning rate)
        assertNumeric(
                paft(
                        "train-sft",
                        "--model",
                        nan.toString(),
                        "--train",
                        SFT,
                        "-o",
                        tmp.resolve("out").toString(),
                        "--max-steps",
                        "1"),
                parts);
    }

    @Test
    void infWeightIsExit4Too() {
        Path inf = AttackInputs.demo(tmp.resolve("inf"), c -> {});
        AttackInputs.poke(inf.resolve("model.safetensors"), "model.embed_tokens.weight", 5, Float.NEGATIVE_INFINITY);
        assertNumeric(
                paft("eval", "--model", inf.toString(), "--ppl", SFT),
                "'model.embed_tokens.weight' holds -Infinity at element 5");
    }

    @Test
    void nanAdapterIsExit4NamingTheAdapterTensor() throws Exception {
        Path model = AttackInputs.demo(tmp.resolve("base"), c -> {});
        Path adapter = tmp.resolve("adapter");
        float[] a = new float[2 * 128];
        a[3] = Float.NaN;
        new PeftAdapter(
                        new PeftAdapterConfig(2, 4, 0.0, List.of("q_proj"), false, model.toString()),
                        Map.of(
                                "model.layers.0.self_attn.q_proj",
                                new PeftAdapter.LoraPair(
                                        FloatTensor.of(a, 2, 128), FloatTensor.of(new float[128 * 2], 128, 2))))
                .write(adapter, DType.F32, null);
        assertNumeric(
                paft("eval", "--model", model.toString(), "--adapter", adapter.toString(), "--ppl", SFT),
                adapter
                        + ": tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' holds NaN at element 3",
                "adapter weights are not finite");
    }

    @Test
    void overflowingForwardIsExit4NamingTheScore() {
        // before: perplexity "n/a" with exit 0, and a plausible multiple-choice accuracy
        assertNumeric(
                paft("eval", "--model", overflow.toString(), "--ppl", SFT),
                SFT + ": log-likelihood of scored sequence ",
                " of 260 is NaN",
                "forward pass is not finite");
        assertNumeric(
                paft("eval", "--model", overflow.toString(), "--mc", MC), MC + ": log-likelihood of scored sequence");
        assertNumeric(paft("eval", "--model", overflow.toString(), "--prefs", PREFS), PREFS + ": log-likelihood");
    }

    @Test
    void overflowingForwardStopsGeneration() {
        // before: empty tokens and exit 0
        assertNumeric(
                paft("generate", "--model", overflow.toString(), "--prompt", "what does adam like to eat ?"),
                "next-token logits are not finite",
                "at generated token 1");
    }

    @Test
    void tokenIdAtOrAboveVocabSizeIsExit3NamingTokenAndSizes() throws Exception {
        // the tokenizer knows one more token than the model has embedding rows
        Path model = AttackInputs.demo(tmp.resolve("tokbig"), c -> {});
        var tok = (ObjectNode)
                AttackInputs.JSON.readTree(model.resolve("tokenizer.json").toFile());
        tok.withArray("added_tokens")
                .addObject()
                .put("id", 276)
                .put("content", "<extra>")
                .put("single_word", false)
                .put("lstrip", false)
                .put("rstrip", false)
                .put("normalized", false)
                .put("special", true);
        Files.writeString(model.resolve("tokenizer.json"), AttackInputs.JSON.writeValueAsString(tok));
        Path data = AttackInputs.write(
                tmp.resolve("extra.jsonl"),
                "{\"text\": \"the answer is cheese .\"}\n{\"text\": \"the answer is <extra> cheese .\"}\n");
        String expected = data + ":2: " + model + ": token '<extra>' has id 276, outside the model's vocab_size 276";
        Run eval = paft("eval", "--model", model.toString(), "--ppl", data.toString());
        assertEquals(3, eval.code(), eval.err());
        assertTrue(eval.err().contains(expected), eval.err());
        assertEquals(1, eval.errLines(), eval.err());
        Run train = paft(
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                data.toString(),
                "-o",
                tmp.resolve("o2").toString(),
                "--dry-run");
        assertEquals(3, train.code(), train.err());
        assertTrue(train.err().contains(expected), train.err());
        Run gen = paft("generate", "--model", model.toString(), "--prompt", "<extra>");
        assertEquals(3, gen.code(), gen.err());
        assertTrue(gen.err().contains("token '<extra>' has id 276"), gen.err());
        assertFalse(gen.err().contains("EngineException"), gen.err());
    }

    @Test
    void healthyModelStillScores() {
        Path ok = AttackInputs.demo(tmp.resolve("ok"), c -> {});
        Run r = paft("eval", "--model", ok.toString(), "--ppl", SFT, "--format", "json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"perplexity\""), r.out());
    }
}
