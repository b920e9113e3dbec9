package dev.paft.attack;

import static dev.paft.attack.AttackInputs.paft;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.errors.PaftException;
import dev.paft.model.LlamaModel;
import dev.paft.testutil.Cli.Run;
import java.nio.file.Path;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Invalid, unsupported or absurd config.json values (issue 19 items 6 and 10): exit 3 naming the key,
 * "not supported" for what paft does not implement, and counts checked against the file's tensors
 * before anything proportional to them is built.
 */
class ModelConfigAttackTest {
    @TempDir
    Path tmp;

    static final String SFT = AttackInputs.DEMO_DATA.resolve("sft_test.jsonl").toString();

    /** {@code train-sft --dry-run} reads config.json and the safetensors headers, loads no weights. */
    Run dryRun(Path model) {
        return paft(
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                SFT,
                "-o",
                tmp.resolve("out").toString(),
                "--dry-run");
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(
            delimiter = '|',
            value = {
                "rms_norm_eps | -1e-5 | 'rms_norm_eps' must be a positive number",
                "rms_norm_eps | 0 | 'rms_norm_eps' must be a positive number",
                "rms_norm_eps | \"1e-5\" | 'rms_norm_eps' must be a positive number",
                "rope_theta | 0 | 'rope_theta' must be a positive number",
                "rope_theta | -10000 | 'rope_theta' must be a positive number",
                "hidden_act | \"gelu_pytorch_tanh\" | hidden_act 'gelu_pytorch_tanh' is not supported (paft implements silu)",
                "hidden_act | \"relu\" | hidden_act 'relu' is not supported",
                "hidden_act | 7 | 'hidden_act' must be a string",
                "rope_scaling | {\"type\": \"linear\", \"factor\": 2.0} | rope_scaling type 'linear' is not supported",
                "rope_scaling | {\"rope_type\": \"yarn\", \"factor\": 4.0} | rope_scaling type 'yarn' is not supported",
                "rope_scaling | {\"rope_type\": \"dynamic\", \"factor\": 4.0} | rope_scaling type 'dynamic' is not supported",
                "rope_scaling | {\"rope_type\": \"llama3\", \"factor\": 0} | 'rope_scaling.factor' must be a positive number",
                "rope_scaling | {\"rope_type\": \"llama3\", \"low_freq_factor\": 4, \"high_freq_factor\": 4} | rope_scaling.high_freq_factor (4.0) must be above low_freq_factor (4.0)",
                "rope_scaling | \"llama3\" | 'rope_scaling' must be an object or null",
                "mlp_bias | true | mlp_bias true is not supported",
                "attention_bias | \"yes\" | 'attention_bias' must be true or false",
                "tie_word_embeddings | 1 | 'tie_word_embeddings' must be true or false",
                "partial_rotary_factor | 0.5 | partial_rotary_factor 0.5 is not supported",
                "final_logit_softcapping | 30.0 | final_logit_softcapping is not supported",
                "max_position_embeddings | -1 | 'max_position_embeddings' must be a positive integer",
                "head_dim | 33 | head_dim 33 is odd",
                "num_hidden_layers | 1000000000 | num_hidden_layers = 1000000000 but the safetensors hold 4 layers (the last: tensor 'model.layers.3.",
                "num_hidden_layers | 3 | num_hidden_layers = 3 but the safetensors hold 4 layers",
                "num_hidden_layers | 1e9 | 'num_hidden_layers' must be a positive integer",
                "vocab_size | 2000000000 | vocab_size = 2000000000 but 'model.embed_tokens.weight' has 276 rows",
                "hidden_size | 2147483520 | hidden_size = 2147483520 but 'model.embed_tokens.weight' has 128 columns"
            })
    void badValueIsExit3NamingTheKey(String key, String json, String message) throws Exception {
        JsonNode value = AttackInputs.JSON.readTree(json);
        Path model = AttackInputs.demo(tmp.resolve("m"), c -> c.set(key, value));
        long t0 = System.nanoTime();
        Run r = dryRun(model);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(3, r.code(), r.err() + r.out());
        assertTrue(r.err().contains(model.resolve("config.json") + ": " + message), r.err());
        assertEquals(1, r.errLines(), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
        assertTrue(seconds < 5, "refused in " + seconds + " s");
    }

    @Test
    void absurdLayerCountFailsWithinASecondWithoutBuildingAnything() {
        Path model = AttackInputs.demo(tmp.resolve("m"), c -> c.put("num_hidden_layers", 1_000_000_000));
        LlamaModel.check(AttackInputs.demo(tmp.resolve("warm"), c -> {})); // class loading out of the measurement
        long t0 = System.nanoTime();
        PaftException e = Assertions.assertThrows(PaftException.class, () -> LlamaModel.check(model));
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(seconds < 1, "refused in " + seconds + " s (ran 13 min to an OutOfMemoryError before)");
    }

    @Test
    void evalRefusesAnUnsupportedActivationInsteadOfComputingSilu() {
        // the case as reported: exit 0 with a plausible perplexity, computed as SiLU
        Path model = AttackInputs.demo(tmp.resolve("gelu"), c -> c.put("hidden_act", "gelu_pytorch_tanh"));
        Run r = paft("eval", "--model", model.toString(), "--ppl", SFT);
        assertEquals(3, r.code(), r.err() + r.out());
        assertTrue(r.err().contains("not supported"), r.err());
    }

    @Test
    void supportedValuesStillLoad() {
        // silu spelled "swish", llama3 scaling spelled out, rope_scaling null, explicit false biases
        Path model = AttackInputs.demo(tmp.resolve("ok"), c -> {
            c.put("hidden_act", "swish");
            c.putNull("rope_scaling");
            c.put("mlp_bias", false);
            c.put("attention_bias", false);
        });
        Run r = dryRun(model);
        assertEquals(0, r.code(), r.err());
        Path llama3 = AttackInputs.demo(
                tmp.resolve("llama3"),
                c -> c.set(
                        "rope_scaling",
                        AttackInputs.JSON
                                .createObjectNode()
                                .put("rope_type", "llama3")
                                .put("factor", 8.0)
                                .put("low_freq_factor", 1.0)
                                .put("high_freq_factor", 4.0)
                                .put("original_max_position_embeddings", 64)));
        assertEquals(0, dryRun(llama3).code());
    }
}
