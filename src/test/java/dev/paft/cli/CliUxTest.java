package dev.paft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.config.ConfigLoader;
import dev.paft.config.PaftConfig;
import dev.paft.testutil.Cli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Help layout, familiar flag spellings, one-line usage errors, config hints and example configs, through the CLI. */
class CliUxTest {
    @TempDir
    Path tmp;

    static Cli.Run run(String... args) {
        return PaftCliTest.run(args);
    }

    @Test
    void topLevelSummariesAreWholeSentencesOnOneLine() {
        String help = run("--help").out();
        List<String> lines = help.lines().toList();
        int start = lines.indexOf("Commands:");
        for (String cmd :
                List.of("demo", "run", "train-sft", "train-dpo", "merge", "sparsity-report", "eval", "generate")) {
            String row = lines.stream()
                    .skip(start)
                    .filter(l -> l.startsWith("  " + cmd + " "))
                    .findFirst()
                    .orElseThrow();
            assertTrue(row.endsWith("."), "summary of " + cmd + " is cut: " + row);
            int i = lines.indexOf(row);
            assertFalse(
                    lines.get(i + 1).startsWith("      "),
                    "summary of " + cmd + " wraps:\n" + row + "\n" + lines.get(i + 1));
        }
        lines.forEach(l -> assertTrue(l.length() <= 80, "wider than 80: " + l));
    }

    @Test
    void optionHelpWrapsAtSpacesAndShowsDefaults() {
        for (String cmd :
                List.of("train-sft", "train-dpo", "run", "demo", "merge", "eval", "generate", "sparsity-report")) {
            String help = run(cmd, "--help").out();
            List<String> lines = help.lines().toList();
            for (int i = 0; i + 1 < lines.size(); i++) {
                assertFalse(
                        lines.get(i).matches(".*[a-z_]\\.$")
                                && lines.get(i + 1).strip().matches("^[a-z_]+[=)].*"),
                        cmd + ": a dotted key split across lines:\n" + lines.get(i) + "\n" + lines.get(i + 1));
                assertTrue(lines.get(i).length() <= 80, cmd + ": wider than 80: " + lines.get(i));
            }
        }
        String sft = run("train-sft", "--help").out();
        assertTrue(sft.lines().anyMatch(l -> l.strip().startsWith("training.learning_rate=1e-4 (repeatable)")), sft);
        String flat = sft.replaceAll("\\s+", " ");
        assertTrue(flat.contains("Peak learning rate (training.learning_rate, default: 2.0e-4)"), sft);
        assertTrue(flat.contains("Optimizer steps (training.max_steps, default: -1)"), sft);
        assertTrue(
                flat.contains("cpu, cuda, cuda:N or auto (a GPU when one is usable, else the CPU; default: cpu)"), sft);
        assertFalse(sft.contains("--learning_rate"), "snake_case aliases are accepted but not listed:\n" + sft);
        // the config run --help cites exists and loads
        String runHelp = run("run", "--help").out();
        assertTrue(runHelp.contains("configs/zephyr/paft.yaml"), runHelp);
        PaftConfig z = ConfigLoader.load(Path.of("configs/zephyr/paft.yaml"), List.of(), Map.of());
        assertEquals(3, z.run().merges().size());
        assertEquals("models/Mistral-7B-v0.1", z.model().path());
    }

    /** -o is the output directory wherever it exists. */
    @Test
    void dashOMeansOutputDirEverywhere() {
        Paft.commandLine().getSubcommands().forEach((name, cl) -> {
            CommandLine.Model.OptionSpec o = cl.getCommandSpec().findOption("-o");
            if (o != null) {
                assertTrue(List.of(o.names()).contains("--output-dir"), name + ": -o is " + List.of(o.names()));
            }
        });
    }

    @Test
    void trlFlagSpellingsSetTheSameKeys() {
        CommandLine cl = Paft.commandLine();
        cl.parseArgs(
                "train-sft",
                "--num-train-epochs",
                "2",
                "--per-device-train-batch-size",
                "3",
                "--gradient-accumulation-steps",
                "4",
                "--learning_rate",
                "1e-3",
                "--lora-dropout",
                "0.2",
                "--lora-target-modules",
                "q_proj,v_proj",
                "--output_dir",
                "o",
                "--model_name_or_path",
                "m",
                "--max_seq_length",
                "99");
        TrainOptions t = ((TrainSftCommand) cl.getSubcommands().get("train-sft").getCommand()).train;
        Map<String, Object> f = ConfigFlags.values(t);
        assertEquals(2.0, f.get("training.epochs"));
        assertEquals(3, f.get("training.batch_size"));
        assertEquals(4, f.get("training.grad_accum"));
        assertEquals(1e-3, f.get("training.learning_rate"));
        assertEquals(0.2, f.get("lora.dropout"));
        assertEquals(List.of("q_proj", "v_proj"), f.get("lora.target_modules"));
        assertEquals("o", f.get("training.output_dir"));
        assertEquals("m", f.get("model.path"));
        assertEquals(99, f.get("data.max_length"));
        CommandLine dpo = Paft.commandLine();
        dpo.parseArgs("train-dpo", "--learning-rate", "5e-6", "--lora-target-modules", "q_proj", "k_proj");
        assertEquals(
                List.of("q_proj", "k_proj"),
                ConfigFlags.values(((TrainDpoCommand)
                                        dpo.getSubcommands().get("train-dpo").getCommand())
                                .train)
                        .get("lora.target_modules"));
    }

    @Test
    void unknownFlagIsOneLineWithASuggestion() {
        Cli.Run r = run("train-sft", "--learning-rat", "1e-4");
        assertEquals(2, r.code());
        List<String> err = r.err().lines().toList();
        assertEquals(2, err.size(), r.err());
        assertEquals(
                "paft train-sft: error: Unknown options: '--learning-rat', '1e-4'; did you mean --learning-rate?",
                err.get(0));
        assertEquals("Run 'paft train-sft --help' for its options.", err.get(1));
        Cli.Run c = run("trian-sft");
        assertEquals(2, c.code());
        assertTrue(c.err().lines().findFirst().orElse("").contains("did you mean train-sft?"), c.err());
    }

    @Test
    void configTypoNamesFileLineAndTheKey() throws Exception {
        Path cfg = tmp.resolve("c.yaml");
        Files.writeString(cfg, "model:\n  path: m\nlora:\n  r: 8\n  lora_alpha: 32\ntraining:\n  learnig_rate: 1e-4\n");
        Cli.Run r = run("train-sft", "--config", cfg.toString(), "--dry-run");
        assertEquals(2, r.code(), r.err());
        assertTrue(
                r.err()
                        .startsWith("paft train-sft: error: " + cfg
                                + ":5: unknown key 'lora.lora_alpha'; did you mean 'lora.alpha'?"),
                r.err());
        Files.writeString(cfg, "model:\n  path: m\ntraining:\n  learnig_rate: 1e-4\n");
        r = run("train-sft", "--config", cfg.toString(), "--dry-run");
        assertTrue(
                r.err()
                        .startsWith("paft train-sft: error: " + cfg
                                + ":4: unknown key 'training.learnig_rate'; did you mean 'training.learning_rate'?"),
                r.err());
        Files.writeString(cfg, "model:\n  path: m\ntrainig:\n  seed: 1\n");
        r = run("train-sft", "--config", cfg.toString(), "--dry-run");
        assertTrue(
                r.err()
                        .startsWith("paft train-sft: error: " + cfg
                                + ":3: unknown section 'trainig'; did you mean 'training'?"),
                r.err());
    }

    /** A flat TRL SFTConfig-style YAML is read as paft keys, and says so (what it mapped, what it ignored). */
    @Test
    void flatTrlYamlIsRead() throws Exception {
        Path cfg = tmp.resolve("trl.yaml");
        Files.writeString(cfg, """
                model_name_or_path: runs/models/tiny
                output_dir: runs/trl-sft
                learning_rate: 2.0e-5
                num_train_epochs: 3
                per_device_train_batch_size: 2
                gradient_accumulation_steps: 8
                lr_scheduler_type: linear
                max_length: 512
                lora_r: 32
                lora_alpha: 64
                lora_target_modules: [q_proj, v_proj]
                completion_only_loss: true
                bf16: true
                report_to: none
                """);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        PaftConfig c;
        try {
            c = ConfigLoader.load(cfg, List.of(), Map.of());
        } finally {
            System.setErr(old);
        }
        assertEquals("runs/models/tiny", c.model().path());
        assertEquals("runs/trl-sft", c.training().outputDir());
        assertEquals(2.0e-5, c.training().learningRate());
        assertEquals(3.0, c.training().epochs());
        assertEquals(2, c.training().batchSize());
        assertEquals(8, c.training().gradAccum());
        assertEquals(512, c.data().maxLength());
        assertEquals(32, c.lora().r());
        assertEquals(List.of("q_proj", "v_proj"), c.lora().targetModules());
        assertFalse(c.data().trainOnPrompt());
        String log = err.toString(StandardCharsets.UTF_8);
        assertTrue(
                log.contains(
                        cfg
                                + " is a TRL/transformers flat config; read 12 of its keys as paft keys (model_name_or_path -> model.path"),
                log);
        assertTrue(log.contains("ignored (no paft equivalent): bf16, report_to"), log);
    }

    /** configs/tiny/* run without the whole demo: demo --assets-only extracts what they read. */
    @Test
    void assetsOnlyGivesTheTinyConfigsTheirFiles() throws Exception {
        Path demo = tmp.resolve("demo");
        Cli.Run r = run("demo", "--assets-only", "-o", demo.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(demo.resolve("assets/model/model.safetensors")));
        assertFalse(Files.exists(demo.resolve("SFT")), "nothing trained");
        for (String name : List.of("sft-sparse.yaml", "dpo.yaml")) {
            String text = Files.readString(Path.of("configs/tiny", name));
            assertTrue(text.contains("paft demo --assets-only"), name + " says how to get its files");
            Path cfg = tmp.resolve(name);
            Files.writeString(
                    cfg,
                    text.replace("runs/demo/assets", demo.resolve("assets").toString())
                            .replace("runs/tiny", tmp.resolve("tiny").toString()));
            Cli.Run d =
                    run(name.startsWith("sft") ? "train-sft" : "train-dpo", "--config", cfg.toString(), "--dry-run");
            assertEquals(0, d.code(), d.err());
        }
        for (String f : List.of("configs/merge/ties.yaml", "configs/merge/mergekit-dare-ties.yml")) {
            assertTrue(Files.readString(Path.of(f)).contains("huggingface-cli download mistralai/Mistral-7B-v0.1"), f);
        }
    }
}
