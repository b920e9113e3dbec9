package dev.paft.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import dev.paft.io.WeightStorage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Config loading: precedence flag > --set > file > default, and every error path (exit 2). */
class ConfigLoaderTest {
    @TempDir
    Path tmp;

    static Path resource(String name) {
        try {
            return Paths.get(
                    ConfigLoaderTest.class.getResource("/config/" + name).toURI());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private Path file(String name, String text) throws IOException {
        return Files.writeString(tmp.resolve(name), text);
    }

    @Test
    void defaultsBindAndValidate() {
        PaftConfig c = ConfigLoader.load(null, List.of(), Map.of());
        assertEquals(16, c.lora().r());
        assertEquals(2e-4, c.training().learningRate());
        assertEquals(Scheduler.COSINE, c.training().scheduler());
        assertEquals(L1Target.FACTORS, c.sft().l1Target());
        assertEquals(LossType.DPO, c.preference().loss());
        assertEquals(WeightStorage.F32, c.model().dtype());
        assertEquals(DataFormat.AUTO, c.data().format());
        assertEquals(OrpoNll.COMPLETION, c.preference().orpoNll());
        assertEquals(7, c.lora().targetModules().size());
        assertNull(c.model().path());
        assertEquals("5GB", c.merge().shardSize());
        assertEquals(42L, c.training().seed());
    }

    @Test
    void yamlAndJsonFilesGiveTheSameConfig() {
        PaftConfig y = ConfigLoader.load(resource("full.yaml"), List.of(), Map.of());
        PaftConfig j = ConfigLoader.load(resource("full.json"), List.of(), Map.of());
        assertEquals(y, j);
        assertEquals("models/tiny", y.model().path());
        assertEquals(WeightStorage.F16, y.model().dtype());
        assertEquals(8, y.lora().r());
        assertEquals(32.0, y.lora().alpha());
        assertEquals(4.0, y.lora().scaling());
        assertEquals(0.05, y.lora().dropout(), "untouched keys keep their defaults");
        assertEquals(List.of("q_proj", "v_proj"), y.lora().targetModules());
        assertEquals(1e-4, y.training().learningRate(), "1e-4 without a dot is a number");
        assertEquals(3.0, y.training().epochs());
        assertEquals(1e-3, y.sft().l1Lambda());
        assertEquals(LossType.ORPO, y.preference().loss());
        assertEquals("ties", y.merge().method());
        assertEquals(2, y.merge().models().size());
        assertEquals("out/dpo", y.merge().models().get(1).model());
        assertEquals(List.of(0.2, 0.8), y.merge().models().get(1).parameters().get("weight"));
        assertEquals(true, y.merge().parameters().get("normalize"));
    }

    @Test
    void precedenceFlagOverSetOverFileOverDefault() throws IOException {
        Path f = file("p.yaml", "training:\n  learning_rate: 0.001\n  epochs: 2\n  batch_size: 8\nlora:\n  r: 4\n");
        List<String> sets = List.of("training.learning_rate=0.002", "training.epochs=5");
        Map<String, Object> flags = new LinkedHashMap<>();
        flags.put("training.learning_rate", 0.003);
        flags.put("training.seed", null); // a flag that was not given
        PaftConfig c = ConfigLoader.load(f, sets, flags);
        assertEquals(0.003, c.training().learningRate(), "flag beats --set and file");
        assertEquals(5.0, c.training().epochs(), "--set beats file");
        assertEquals(8, c.training().batchSize(), "file beats default");
        assertEquals(4, c.lora().r());
        assertEquals(42L, c.training().seed(), "null flag leaves the default");
        assertEquals(1, c.training().gradAccum(), "default");
        // --set later wins over an earlier --set; lists and strings parse as YAML
        PaftConfig d = ConfigLoader.load(
                null,
                List.of(
                        "lora.r=8",
                        "lora.r=12",
                        "lora.target_modules=[o_proj]",
                        "model.path=/models/x y",
                        "lora.use_rslora=true"),
                Map.of());
        assertEquals(12, d.lora().r());
        assertEquals(List.of("o_proj"), d.lora().targetModules());
        // PEFT accepts dotted entries (a module is targeted when its name equals one or ends with "." + it)
        PaftConfig dotted = ConfigLoader.load(
                null, List.of("lora.target_modules=[self_attn.q_proj, model.layers.0.mlp.down_proj]"), Map.of());
        assertEquals(
                List.of("self_attn.q_proj", "model.layers.0.mlp.down_proj"),
                dotted.lora().targetModules());
        assertEquals("/models/x y", d.model().path());
        assertTrue(d.lora().useRslora());
    }

    @Test
    void emptyFileAndEmptySectionKeepDefaults() throws IOException {
        assertEquals(
                ConfigLoader.load(null, List.of(), Map.of()),
                ConfigLoader.load(file("e.yaml", ""), List.of(), Map.of()));
        PaftConfig c = ConfigLoader.load(file("s.yaml", "lora:\ntraining:\n  epochs: 2\n"), List.of(), Map.of());
        assertEquals(16, c.lora().r());
        assertEquals(2.0, c.training().epochs());
    }

    @Test
    void resolvedConfigRoundTripsThroughYaml() throws IOException {
        PaftConfig c = ConfigLoader.load(resource("full.yaml"), List.of("lora.r=4"), Map.of());
        Path out = file("resolved.yaml", ConfigLoader.toYaml(c));
        assertEquals(c, ConfigLoader.load(out, List.of(), Map.of()));
    }

    // ---- errors -------------------------------------------------------------------------------

    private static PaftException usage(Runnable r, String... fragments) {
        PaftException e = assertThrows(PaftException.class, r::run);
        assertEquals(PaftException.USAGE, e.exitCode(), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
        }
        return e;
    }

    private void fileError(String yaml, String... fragments) throws IOException {
        Path f = file("bad.yaml", yaml);
        String[] all =
                Stream.concat(Stream.of(f.toString()), Stream.of(fragments)).toArray(String[]::new);
        usage(() -> ConfigLoader.load(f, List.of(), Map.of()), all);
    }

    @Test
    void unknownSectionAndKeys() throws IOException {
        fileError("trainer:\n  lr: 1\n", "unknown section 'trainer'", "known:");
        fileError("lora:\n  rank: 8\n", "unknown key 'lora.rank'", "known:", "alpha");
        fileError("training:\n  learningRate: 1e-4\n", "unknown key 'training.learningRate'");
        fileError("merge:\n  models:\n    - model: a\n      weight: 1\n", "unknown key 'merge.models[0].weight'");
        Path f = file("json.json", "{\"lora\": {\"r\": 8, \"rr\": 1}}");
        usage(() -> ConfigLoader.load(f, List.of(), Map.of()), f.toString(), "unknown key 'lora.rr'");
    }

    @Test
    void wrongTypesNameKeyAndFile() throws IOException {
        fileError("lora:\n  r: eight\n", "'lora.r'", "wrong type", "integer");
        fileError("lora:\n  r: 1.5\n", "'lora.r'", "wrong type");
        fileError("lora:\n  r: '8'\n", "'lora.r'", "wrong type");
        fileError("lora:\n  r: null\n", "'lora.r'");
        fileError("training:\n  learning_rate: fast\n", "'training.learning_rate'", "a number");
        fileError("lora:\n  use_rslora: maybe\n", "'lora.use_rslora'", "true or false");
        fileError("lora:\n  target_modules: q_proj\n", "'lora.target_modules'", "a list");
        fileError("lora: 5\n", "'lora'", "mapping");
        fileError("merge:\n  parameters: [1, 2]\n", "'merge.parameters'");
        fileError("training:\n  seed: 1.0e30\n", "'training.seed'");
    }

    @Test
    void malformedAndMissingFiles() throws IOException {
        fileError("lora:\n  r: [1, 2\n", "cannot parse YAML");
        fileError("lora:\n\tr: 8\n", "cannot parse YAML", ":1:5:", "TAB");
        fileError("lora:\n  r: 8\n  r: 9\n", "Duplicate");
        fileError("- a\n- b\n", "mapping of sections");
        Path json = file("bad.json", "{\"lora\": {\"r\": 8,}}");
        usage(() -> ConfigLoader.load(json, List.of(), Map.of()), json.toString(), "cannot parse JSON");
        Path missing = tmp.resolve("missing.yaml");
        usage(() -> ConfigLoader.load(missing, List.of(), Map.of()), missing.toString(), "not found");
        usage(() -> ConfigLoader.load(tmp, List.of(), Map.of()), tmp.toString(), "not found");
    }

    static Stream<Arguments> outOfRange() {
        return Stream.of(
                Arguments.of("model.dtype", "fp8"),
                Arguments.of("lora.r", "0"),
                Arguments.of("lora.alpha", "0"),
                Arguments.of("lora.alpha", ".inf"),
                Arguments.of("lora.dropout", "1.0"),
                Arguments.of("lora.dropout", "-0.1"),
                Arguments.of("lora.target_modules", "[]"),
                Arguments.of("lora.target_modules", "[qproj]"),
                Arguments.of("lora.target_modules", "[self_attn.qproj]"),
                Arguments.of("data.format", "csv"),
                Arguments.of("data.max_length", "1"),
                Arguments.of("data.max_prompt_length", "0"),
                Arguments.of("training.learning_rate", "0"),
                Arguments.of("training.learning_rate", ".nan"),
                Arguments.of("training.scheduler", "step"),
                Arguments.of("training.warmup_ratio", "1.5"),
                Arguments.of("training.warmup_steps", "-1"),
                Arguments.of("training.epochs", "0"),
                Arguments.of("training.epochs", ".inf"),
                Arguments.of("training.max_steps", "0"),
                Arguments.of("training.max_steps", "-2"),
                Arguments.of("training.batch_size", "0"),
                Arguments.of("training.grad_accum", "0"),
                Arguments.of("training.max_grad_norm", "-1"),
                Arguments.of("training.weight_decay", "-0.01"),
                Arguments.of("training.adam_beta1", "1"),
                Arguments.of("training.adam_beta2", "-0.1"),
                Arguments.of("training.adam_epsilon", "0"),
                Arguments.of("training.save_steps", "-1"),
                Arguments.of("training.eval_steps", "-1"),
                Arguments.of("training.log_steps", "0"),
                Arguments.of("training.save_total_limit", "0"),
                Arguments.of("sft.l1_lambda", "-1e-4"),
                Arguments.of("sft.l1_target", "weights"),
                Arguments.of("preference.loss", "kto"),
                Arguments.of("preference.beta", "0"),
                Arguments.of("preference.label_smoothing", "0.5"),
                Arguments.of("preference.orpo_lambda", "-1"),
                Arguments.of("preference.orpo_nll", "token"));
    }

    @ParameterizedTest(name = "{0}={1}")
    @MethodSource("outOfRange")
    void outOfRangeValuesNameKeyAndSource(String key, String value) throws IOException {
        // in a file: the message names the file and the key
        String[] parts = key.split("\\.");
        Path f = file("range.yaml", parts[0] + ":\n  " + parts[1] + ": " + value + "\n");
        if (value.startsWith(".")) {
            // Jackson's YAML parser rejects YAML 1.1's .inf / .nan: still exit 2 naming the file and line
            usage(() -> ConfigLoader.load(f, List.of(), Map.of()), f.toString() + ":2:", "'" + value + "'");
            Object v = value.equals(".nan") ? Double.NaN : Double.POSITIVE_INFINITY;
            usage(() -> ConfigLoader.load(null, List.of(), Map.of(key, v)), "flag for " + key, key);
            return;
        }
        usage(() -> ConfigLoader.load(f, List.of(), Map.of()), f.toString(), key);
        // via --set: the message names the --set, not the file
        Path clean = file("clean.yaml", "training:\n  epochs: 1\n");
        PaftException e = usage(
                () -> ConfigLoader.load(clean, List.of(key + "=" + value), Map.of()),
                "--set " + key + "=" + value,
                key);
        assertTrue(!e.getMessage().contains(clean.toString()), e.getMessage());
    }

    /** Every enum-valued key, a value it refuses, and its allowed values as the message lists them. */
    static Stream<Arguments> enumKeys() {
        return Stream.of(
                Arguments.of("model.dtype", "fp8", "[f32, f16, bf16]"),
                Arguments.of("data.format", "csv", "[auto, messages, prompt_completion, text, preference]"),
                Arguments.of("training.scheduler", "step", "[cosine, linear, constant]"),
                Arguments.of("training.precision", "fp16", "[auto, bf16, fp32]"),
                Arguments.of("sft.l1_target", "weights", "[factors, delta]"),
                Arguments.of("preference.loss", "kto", "[dpo, ipo, hinge, orpo]"),
                Arguments.of("preference.orpo_nll", "token", "[completion, sequence]"));
    }

    @ParameterizedTest(name = "{0}={1}")
    @MethodSource("enumKeys")
    void enumKeysBoundAtLoadNameKeyFileAndAllowedValues(String key, String value, String allowed) throws IOException {
        String[] parts = key.split("\\.");
        Path f = file("enum.yaml", parts[0] + ":\n  " + parts[1] + ": " + value + "\n");
        PaftException e = usage(() -> ConfigLoader.load(f, List.of(), Map.of()));
        assertEquals(f + ": " + key + " must be one of " + allowed + " (got " + value + ")", e.getMessage());
        // the spelling is exact: upper case, a number, a list and an empty value fail the same way
        String upper = value.toUpperCase(Locale.ROOT);
        Path up = file("upper.yaml", parts[0] + ":\n  " + parts[1] + ": " + upper + "\n");
        assertEquals(
                up + ": " + key + " must be one of " + allowed + " (got " + upper + ")",
                usage(() -> ConfigLoader.load(up, List.of(), Map.of())).getMessage());
        Path num = file("num.yaml", parts[0] + ":\n  " + parts[1] + ": 3\n");
        usage(
                () -> ConfigLoader.load(num, List.of(), Map.of()),
                num + ": " + key + " must be one of " + allowed + " (got 3)");
        Path list = file("list.yaml", parts[0] + ":\n  " + parts[1] + ": [a]\n");
        usage(
                () -> ConfigLoader.load(list, List.of(), Map.of()),
                list + ": " + key + " must be one of " + allowed + " (got [\"a\"])");
        Path empty = file("empty.yaml", parts[0] + ":\n  " + parts[1] + ":\n");
        usage(
                () -> ConfigLoader.load(empty, List.of(), Map.of()),
                empty + ": " + key + " must be one of " + allowed + " (got null)");
        // JSON files, --set and flags name their source
        Path j = file("enum.json", "{\"" + parts[0] + "\": {\"" + parts[1] + "\": \"" + value + "\"}}");
        assertEquals(
                j + ": " + key + " must be one of " + allowed + " (got " + value + ")",
                usage(() -> ConfigLoader.load(j, List.of(), Map.of())).getMessage());
        assertEquals(
                "--set " + key + "=" + value + ": " + key + " must be one of " + allowed + " (got " + value + ")",
                usage(() -> ConfigLoader.load(null, List.of(key + "=" + value), Map.of()))
                        .getMessage());
        assertEquals(
                "command-line flag for " + key + ": " + key + " must be one of " + allowed + " (got " + value + ")",
                usage(() -> ConfigLoader.load(null, List.of(), Map.of(key, value)))
                        .getMessage());
        // every allowed spelling binds, and is written back the same way
        for (String ok : allowed.substring(1, allowed.length() - 1).split(", ")) {
            PaftConfig c = ConfigLoader.load(null, List.of(key + "=" + ok), Map.of());
            assertTrue(
                    ConfigLoader.toYaml(c).contains("  " + parts[1] + ": " + ok + "\n")
                            || ConfigLoader.toYaml(c).contains("  " + parts[1] + ": \"" + ok + "\"\n"),
                    ConfigLoader.toYaml(c));
            assertEquals(c, ConfigLoader.load(file("again.yaml", ConfigLoader.toYaml(c)), List.of(), Map.of()));
        }
    }

    @Test
    void trlLossTypeSigmoidIsDpo() throws IOException {
        assertEquals(
                LossType.DPO,
                ConfigLoader.load(null, List.of("preference.loss=sigmoid"), Map.of())
                        .preference()
                        .loss());
        // a flat TRL DPOConfig: loss_type maps to preference.loss
        Path trl = file("dpo_config.yaml", "learning_rate: 5.0e-7\nloss_type: sigmoid\nbeta: 0.01\n");
        PaftConfig c = ConfigLoader.load(trl, List.of(), Map.of());
        assertEquals(LossType.DPO, c.preference().loss());
        assertTrue(ConfigLoader.toYaml(c).contains("loss: \"dpo\""), "written back as paft's spelling");
    }

    @Test
    void errorsFromSetAndFlagsNameTheirSource() throws IOException {
        Path f = file("ok.yaml", "lora:\n  r: 8\n");
        usage(
                () -> ConfigLoader.load(f, List.of("lora.r=abc"), Map.of()),
                "--set lora.r=abc",
                "'lora.r'",
                "wrong type");
        usage(() -> ConfigLoader.load(f, List.of("lora.rr=3"), Map.of()), "--set lora.rr=3", "unknown key 'lora.rr'");
        usage(() -> ConfigLoader.load(f, List.of("nosection.x=3"), Map.of()), "unknown section 'nosection'");
        usage(() -> ConfigLoader.load(f, List.of("lora.r.x=3"), Map.of()), "'lora.r' is not a section");
        usage(() -> ConfigLoader.load(f, List.of("lora.r"), Map.of()), "expected key=value");
        usage(() -> ConfigLoader.load(f, List.of("=3"), Map.of()), "expected key=value");
        usage(() -> ConfigLoader.load(f, List.of(), Map.of("training.seed", "x")), "flag for training.seed");
        usage(() -> ConfigLoader.load(f, List.of(), Map.of("lora.r", -1)), "flag for lora.r", "lora.r must be >= 1");
        // a file value overridden by a valid --set no longer counts against the file
        Path badR = file("badr.yaml", "lora:\n  r: 0\n");
        assertEquals(
                4, ConfigLoader.load(badR, List.of("lora.r=4"), Map.of()).lora().r());
        // max_prompt_length >= max_length is a preference-training error (checked by train-dpo), not a config error:
        // SFT configs with a short max_length keep the default max_prompt_length
        Path ml = file("ml.yaml", "data:\n  max_length: 64\n");
        assertEquals(64, ConfigLoader.load(ml, List.of(), Map.of()).data().maxLength());
    }
}
