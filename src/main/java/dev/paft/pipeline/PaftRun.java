package dev.paft.pipeline;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.config.ConfigLoader;
import dev.paft.config.PaftConfig;
import dev.paft.config.RunConfig;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.ChartImages;
import dev.paft.io.Json;
import dev.paft.io.Mappers;
import dev.paft.io.OutputDirs;
import dev.paft.io.WeightStorage;
import dev.paft.merge.MergeRunner;
import dev.paft.merge.MergeSpec;
import dev.paft.model.LlamaModel;
import dev.paft.report.ReportFormats;
import dev.paft.report.ReportInput;
import dev.paft.report.ReportOptions;
import dev.paft.report.SparsityCharts;
import dev.paft.report.SparsityReport;
import dev.paft.report.View;
import dev.paft.train.DataFingerprints;
import dev.paft.train.Recipes;
import dev.paft.train.RunDirectory;
import dev.paft.train.TrainState;
import dev.paft.train.TrainingLoop;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The PAFT paradigm from one config: SFT adapter(s) and the preference adapter trained from the
 * same base, parallel merges of each SFT delta with the preference delta, optionally the
 * sequential baseline, the sparsity report, and a comparison of every model.
 *
 * <p>The two trainings run one after the other in one process on one loaded copy of the frozen
 * base (each with its own adapter). Not both at once: on CPU PyTorch already spreads each step
 * over every core, so two concurrent trainings would only contend, and dropout's random stream is
 * process-global, so concurrent steps would lose bit-exact resume.
 *
 * <p>Every stage is skipped when its output is complete (a finished run's {@code paft_state.json},
 * a merged directory, a cached eval result) and made from the same inputs ({@link StageStamps}), and a
 * training stage resumes from its latest checkpoint. Output made from other inputs is refused (exit 2),
 * or, with {@code overwrite}, redone together with every stage that reads it.
 */
public final class PaftRun {
    /** An SFT stage: its name (and output subdirectory) and its config overlay. */
    public record Variant(String name, Map<String, Object> overlay) {}

    /** What to run. */
    public record Plan(
            PaftConfig root,
            Path out,
            List<Variant> sft,
            Map<String, Object> preference,
            boolean sequential,
            List<RunConfig.RunMerge> merges,
            RunConfig.RunEval eval,
            boolean overwrite) {

        /** The same plan, redoing stages whose inputs changed instead of refusing them. */
        public Plan withOverwrite(boolean o) {
            return new Plan(root, out, sft, preference, sequential, merges, eval, o);
        }

        /** The plan of a config's {@code run} section: one SFT stage named "sft". */
        public static Plan of(PaftConfig cfg, Boolean sequentialFlag) {
            RunConfig r = cfg.run();
            if (r.outputDir() == null) {
                throw PaftException.usage("run.output_dir is required for paft run");
            }
            if (cfg.model().path() == null) {
                throw PaftException.usage("model.path is required for paft run");
            }
            List<Variant> variants = new ArrayList<>();
            if (r.sftVariants() == null || r.sftVariants().isEmpty()) {
                variants.add(new Variant("sft", r.sft()));
            } else {
                r.sftVariants().forEach((name, o) -> {
                    if (!name.matches("[A-Za-z0-9_.-]+") || name.equals("preference")) {
                        throw PaftException.usage(
                                "run.sft_variants: '" + name + "' is not a valid stage name (letters, digits, _ . -)");
                    }
                    Map<String, Object> merged = new LinkedHashMap<>();
                    ConfigLoader.deepMergeMaps(merged, r.sft());
                    ConfigLoader.deepMergeMaps(merged, o);
                    variants.add(new Variant(name, merged));
                });
            }
            return new Plan(
                    cfg,
                    Path.of(r.outputDir()),
                    variants,
                    r.preference(),
                    sequentialFlag != null ? sequentialFlag : r.sequential(),
                    r.merges() == null ? List.of() : r.merges(),
                    r.eval(),
                    false);
        }
    }

    /** The result: every row of the comparison and the rendered table. */
    public record Outcome(List<Comparison.Row> rows, String table, Path out) {}

    private final Plan plan;
    private final Device device;
    private final Function<String, TrainingLoop.Listener> listeners;
    private final Consumer<String> log;

    public PaftRun(Plan plan, Device device, Function<String, TrainingLoop.Listener> listeners, Consumer<String> log) {
        this.plan = plan;
        this.device = device;
        this.listeners = listeners;
        this.log = log;
    }

    public Outcome run() {
        Path out = plan.out();
        Path base = Path.of(plan.root().model().path());
        mkdirs(out);
        writeText(out.resolve("run_config.yaml"), ConfigLoader.toYaml(plan.root()));

        // 0. What every stage is made from; stale outputs are refused, or redone with --overwrite.
        Map<String, PaftConfig> sftCfgs = new LinkedHashMap<>();
        for (Variant v : plan.sft()) {
            sftCfgs.put(v.name(), stageConfig(v.overlay(), out.resolve(v.name()), null, "run.sft (" + v.name() + ")"));
        }
        PaftConfig prefCfg = stageConfig(plan.preference(), out.resolve("preference"), null, "run.preference");
        List<Candidate> candidates = new ArrayList<>();
        Stages st = new Stages(out);
        sftCfgs.forEach((name, c) -> st.training(name, c, null));
        st.training("preference", prefCfg, null);
        candidates.add(new Candidate("base", "base", base, null));
        st.addEval(
                "eval/" + Candidate.fileName("base") + ".json",
                evalInputs(Map.of("model", base.toAbsolutePath().toString())));
        for (String name : sftCfgs.keySet()) {
            candidates.add(new Candidate(name, "sft", base, out.resolve(name)));
        }
        candidates.add(new Candidate("preference", "preference", base, out.resolve("preference")));
        if (plan.sequential()) {
            for (String name : sftCfgs.keySet()) {
                st.add("models/" + name, Map.of("base", base.toAbsolutePath().toString(), "adapter", st.hash(name)));
                st.training(
                        "sequential/" + name + "-then-preference",
                        stageConfig(
                                plan.preference(),
                                out.resolve("sequential").resolve(name + "-then-preference"),
                                out.resolve("models").resolve(name),
                                "run.preference (sequential after " + name + ")"),
                        st.hash("models/" + name));
                st.add(
                        "sequential/" + name + "+preference.model",
                        Map.of(
                                "base",
                                st.hash("models/" + name),
                                "adapter",
                                st.hash("sequential/" + name + "-then-preference")));
                candidates.add(new Candidate(
                        "seq:" + name + "->preference",
                        "sequential",
                        out.resolve("sequential").resolve(name + "+preference.model"),
                        null));
            }
        }
        for (String name : sftCfgs.keySet()) {
            for (RunConfig.RunMerge m : plan.merges()) {
                Map<String, String> in = new LinkedHashMap<>(StageStamps.flatten(SNAKE.valueToTree(m)));
                in.put("base", base.toAbsolutePath().toString());
                in.put("sft", st.hash(name));
                in.put("preference", st.hash("preference"));
                if (m.method().equals("slerp")) {
                    st.add(
                            "models/" + name,
                            Map.of("base", base.toAbsolutePath().toString(), "adapter", st.hash(name)));
                    st.add(
                            "models/preference",
                            Map.of("base", base.toAbsolutePath().toString(), "adapter", st.hash("preference")));
                }
                st.add("merged/" + name + "+preference." + m.name(), in);
                candidates.add(new Candidate(
                        name + "+preference/" + m.name(),
                        "parallel",
                        out.resolve("merged").resolve(name + "+preference." + m.name()),
                        null));
            }
        }
        for (Candidate c : candidates) {
            if (!c.name().equals("base")) {
                String made = out.relativize(c.adapter() != null ? c.adapter() : c.model())
                        .toString()
                        .replace('\\', '/');
                st.addEval("eval/" + c.fileName() + ".json", evalInputs(Map.of("model", st.hash(made))));
            }
        }
        st.checkAll();

        // 1. SFT adapter(s) and the preference adapter, from the same base (one copy in memory).
        boolean anyTraining = sftCfgs.keySet().stream().anyMatch(n -> st.pending(n, finished(out.resolve(n))))
                || st.pending("preference", finished(out.resolve("preference")));
        if (anyTraining) {
            try (LlamaModel shared =
                    LlamaModel.load(base, device, plan.root().model().dtype())) {
                sftCfgs.forEach((name, c) -> train(name, name, c, true, shared, st));
                train("preference", "preference", prefCfg, false, shared, st);
            }
        } else {
            log.accept("training stages complete: skipped");
        }

        // 2. The sequential baseline: SFT merged into the base, preference training on it, merged.
        if (plan.sequential()) {
            for (String name : sftCfgs.keySet()) {
                Path sftModel = materialize(
                        base, out.resolve(name), out.resolve("models").resolve(name), st);
                String key = "sequential/" + name + "-then-preference";
                Path seqPref = out.resolve(key);
                PaftConfig c = stageConfig(
                        plan.preference(), seqPref, sftModel, "run.preference (sequential after " + name + ")");
                train("sequential " + name + " -> preference", key, c, false, null, st);
                materialize(sftModel, seqPref, out.resolve("sequential").resolve(name + "+preference.model"), st);
            }
        }

        // 3. Parallel merges of each SFT delta with the preference delta.
        for (String name : sftCfgs.keySet()) {
            for (RunConfig.RunMerge m : plan.merges()) {
                Path merged = out.resolve("merged").resolve(name + "+preference." + m.name());
                merge(base, out.resolve(name), out.resolve("preference"), m, merged, name, st);
            }
        }

        // 4. The sparsity of every adapter (the paper's Figure 2).
        Map<String, Map<String, String>> extra = sparsity(out, new ArrayList<>(sftCfgs.keySet()));

        // 5. Evaluate every model and compare.
        for (Candidate c : candidates) {
            st.begin(
                    "eval/" + c.fileName() + ".json",
                    () -> deleteIfExists(out.resolve("eval").resolve(c.fileName() + ".json")));
        }
        List<Comparison.Row> rows = plan.eval() == null
                ? List.of()
                : Comparison.evaluate(
                        candidates, base, Comparison.suite(plan.eval(), plan.root()), device, out.resolve("eval"), log);
        String table = Comparison.table(rows, extra);
        writeText(out.resolve("comparison.txt"), table);
        writeText(out.resolve("comparison.csv"), Comparison.csv(rows, extra));
        Json.write(out.resolve("comparison.json"), Comparison.json(rows, extra));
        return new Outcome(rows, table, out);
    }

    private static final ObjectMapper SNAKE = Mappers.snakeCase();
    private static final ObjectMapper YAML_TREE = Mappers.yaml();

    private Map<String, String> evalInputs(Map<String, String> model) {
        Map<String, String> in = new LinkedHashMap<>(model);
        if (plan.eval() != null) {
            in.putAll(StageStamps.flatten(SNAKE.valueToTree(plan.eval())));
            in.remove("batch_size", "32"); // the batch the comparison always used: earlier results stay valid
        }
        in.put("max_length", Integer.toString(plan.root().data().maxLength()));
        in.put("max_prompt_length", Integer.toString(plan.root().data().maxPromptLength()));
        // The rest of what the eval suite reads from the config (EvalSuite.Settings.of), each only when it differs
        // from what evaluations before the shared suite used (f32, the tokenizer's template and directory, no
        // skipping): those results stay valid, the others are made again.
        PaftConfig root = plan.root();
        if (root.model().dtype() != WeightStorage.F32) {
            in.put("model.dtype", root.model().dtype().configName());
        }
        if (root.model().tokenizer() != null) {
            in.put("model.tokenizer", root.model().tokenizer());
        }
        if (root.data().chatTemplate() != null) {
            in.put("data.chat_template", root.data().chatTemplate());
        }
        if (root.data().skipBadRecords()) {
            in.put("data.skip_bad_records", "true");
        }
        return in;
    }

    /** The stamps of this run's stages and which of them are redone. */
    private final class Stages {
        private final Path out;
        private final StageStamps stamps;
        private final Map<String, StageStamps.Stamp> planned = new LinkedHashMap<>();
        private final Set<String> redo = new HashSet<>();

        Stages(Path out) {
            this.out = out;
            this.stamps = new StageStamps(out);
        }

        void add(String stage, Map<String, String> inputs) {
            planned.put(stage, StageStamps.Stamp.of(inputs));
        }

        /**
         * A stage that reads data files: its stamp holds each file's size and SHA-256 too
         * ({@link DataFingerprints#stampEntries}), so output made from other data content counts as changed. A stamp
         * written by a paft before data fingerprints, equal in everything else, is kept as it is (the content is not
         * checked, said once); a data path that no longer exists keeps the fingerprints recorded for it.
         */
        void addWithData(String stage, Map<String, String> inputs, Map<String, Path> data) {
            StageStamps.Stamp legacy = StageStamps.Stamp.of(inputs);
            if (!data.isEmpty() && stamps.recorded(stage, legacy.hash())) {
                log.accept(stage + ": made by an earlier paft that did not record its data files' content;"
                        + " not checked (paths only)");
                planned.put(stage, legacy);
                return;
            }
            Map<String, String> in = new LinkedHashMap<>(inputs);
            data.forEach((key, root) -> {
                List<DataFingerprints.FilePrint> prints = DataFingerprints.ofPath(root);
                if (prints.isEmpty()) {
                    in.putAll(stamps.entries(stage, key + " file "));
                } else {
                    in.putAll(DataFingerprints.stampEntries(key, root, prints));
                }
            });
            planned.put(stage, StageStamps.Stamp.of(in));
        }

        /** An evaluation stage: its inputs and the eval files of {@code run.eval}. */
        void addEval(String stage, Map<String, String> inputs) {
            Map<String, Path> data = new LinkedHashMap<>();
            RunConfig.RunEval e = plan.eval();
            if (e != null) {
                if (e.perplexity() != null) {
                    data.put("run.eval.perplexity", Path.of(e.perplexity()));
                }
                if (e.preferences() != null) {
                    data.put("run.eval.preferences", Path.of(e.preferences()));
                }
                if (e.multipleChoice() != null) {
                    for (int i = 0; i < e.multipleChoice().size(); i++) {
                        data.put(
                                "run.eval.multiple_choice[" + i + "]",
                                Path.of(e.multipleChoice().get(i)));
                    }
                }
            }
            addWithData(stage, inputs, data);
        }

        /** A training stage: its resolved config (the run section and its own output_dir aside) and what it starts from. */
        void training(String stage, PaftConfig cfg, String startsFrom) {
            try {
                Map<String, String> in = StageStamps.flatten(YAML_TREE.readTree(ConfigLoader.toYaml(cfg)));
                in.keySet()
                        .removeIf(k -> k.startsWith("run.")
                                || k.equals("training.output_dir")
                                || startsFrom != null && (k.equals("model.path") || k.equals("model.tokenizer")));
                if (startsFrom != null) {
                    in.put("starts_from", startsFrom);
                }
                addWithData(stage, in, DataFingerprints.roots(cfg));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        String hash(String stage) {
            return planned.get(stage).hash();
        }

        /** Refuses stale outputs (exit 2) unless --overwrite, which marks them to be redone. */
        void checkAll() {
            List<StageStamps.Change> changes = new ArrayList<>();
            planned.forEach((stage, s) -> {
                StageStamps.Change c = stamps.check(stage, s, exists(out.resolve(stage)));
                if (c != null) {
                    changes.add(c);
                }
            });
            if (changes.isEmpty()) {
                return;
            }
            if (!plan.overwrite()) {
                StageStamps.Change first = changes.get(0);
                throw PaftException.usage(
                        "stage " + first.stage() + " in " + out + " was made from other inputs (" + first.what() + ")"
                                + (changes.size() > 1
                                        ? "; " + (changes.size() - 1) + " more stage(s) depend on it or changed too"
                                        : "")
                                + ". Pass --overwrite to redo the changed stages (unchanged ones are kept), or choose another output directory");
            }
            for (StageStamps.Change c : changes) {
                log.accept(c.stage() + ": " + c.what() + ": redoing");
                redo.add(c.stage());
            }
        }

        boolean redo(String stage) {
            return redo.contains(stage);
        }

        /** Whether a stage has work to do: its output is incomplete, or stale and being redone. */
        boolean pending(String stage, boolean complete) {
            return !complete || redo(stage);
        }

        /** Stamps a stage as it starts; a stale output is removed first by {@code clear}. */
        void begin(String stage, Runnable clear) {
            if (redo(stage)) {
                clear.run();
            }
            stamps.put(stage, planned.get(stage));
        }

        /**
         * Stamps a stage whose output is replaced only once its new output is complete (a training or merge redone
         * with --overwrite): until {@link #done} the stamp is marked pending, so a redo that failed or was killed,
         * leaving the old output in place, is not taken for the new one by the next run.
         */
        void beginReplacing(String stage) {
            if (redo(stage)) {
                stamps.putPending(stage, planned.get(stage));
            } else {
                stamps.put(stage, planned.get(stage));
            }
        }

        /** The stage's new output is in place: its stamp is current. */
        void done(String stage) {
            stamps.clearPending(stage);
        }

        private boolean exists(Path p) {
            if (Files.isRegularFile(p)) {
                return true;
            }
            try (var s = Files.list(p)) {
                return s.findAny().isPresent();
            } catch (IOException e) {
                return false;
            }
        }
    }

    private static void deleteIfExists(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw PaftException.io("delete", p, e);
        }
    }

    private PaftConfig stageConfig(Map<String, Object> overlay, Path outputDir, Path modelOverride, String where) {
        Map<String, Object> forced = new LinkedHashMap<>();
        forced.put("training.output_dir", outputDir.toString());
        if (modelOverride != null) {
            forced.put("model.path", modelOverride.toString());
            forced.put(
                    "model.tokenizer",
                    plan.root().model().tokenizer() != null
                            ? plan.root().model().tokenizer()
                            : plan.root().model().path());
        }
        return ConfigLoader.overlay(plan.root(), overlay, forced, where);
    }

    private void train(String name, String stage, PaftConfig cfg, boolean sft, LlamaModel shared, Stages st) {
        Path dir = Path.of(cfg.training().outputDir());
        if (!st.pending(stage, finished(dir))) {
            log.accept(name + ": complete, skipped (" + dir + ")");
            return;
        }
        st.beginReplacing(stage);
        boolean redo = st.redo(stage);
        Recipes.Options o = Recipes.Options.defaults().withResume(!redo).withOverwrite(redo);
        TrainingLoop.Listener l = listeners.apply(name);
        try {
            if (sft) {
                Recipes.sft(cfg, device, o, l, shared);
            } else {
                Recipes.preference(cfg, device, o, l, shared);
            }
        } catch (RunDirectory.Replaced paused) {
            st.done(stage); // Ctrl-C: the paused new run took the old one's place; the next run resumes it
            throw paused;
        }
        st.done(stage);
    }

    /** {@code base + scaling * B @ A} as a full model directory (a linear merge of weight 1). */
    private Path materialize(Path base, Path adapter, Path target, Stages st) {
        String stage = plan.out().relativize(target).toString().replace('\\', '/');
        if (!st.pending(stage, Files.isRegularFile(target.resolve("config.json")))) {
            return target;
        }
        st.beginReplacing(stage);
        mkdirs(target.getParent());
        MergeSpec spec = MergeSpec.builder("linear", base.toString())
                .input(adapter.toString(), Map.of("weight", 1.0))
                .parameters(Map.of("normalize", false))
                .build();
        if (!st.redo(stage)) {
            OutputDirs.cleanStale(target, OutputDirs.MERGE_FILES); // what a killed run left
        }
        MergeRunner.run(spec, new MergeRunner.Options(target, st.redo(stage)));
        st.done(stage);
        log.accept("merged " + adapter.getFileName() + " into " + base.getFileName() + " -> " + target);
        return target;
    }

    private void merge(
            Path base,
            Path sftAdapter,
            Path prefAdapter,
            RunConfig.RunMerge m,
            Path target,
            String sftName,
            Stages st) {
        String stage = plan.out().relativize(target).toString().replace('\\', '/');
        if (!st.pending(stage, Files.isRegularFile(target.resolve("config.json")))) {
            log.accept("merge " + target.getFileName() + ": complete, skipped");
            return;
        }
        st.beginReplacing(stage);
        mkdirs(target.getParent());
        MergeSpec spec;
        Map<String, Object> global = m.parameters() == null ? Map.of() : m.parameters();
        if (m.method().equals("slerp")) {
            // SLERP interpolates two models: the SFT model (t = 0) and the preference model (t = 1).
            Path sftModel =
                    materialize(base, sftAdapter, plan.out().resolve("models").resolve(sftName), st);
            Path prefModel =
                    materialize(base, prefAdapter, plan.out().resolve("models").resolve("preference"), st);
            spec = MergeSpec.builder("slerp", sftModel.toString())
                    .input(prefModel.toString(), Map.of())
                    .parameters(global)
                    .build();
        } else {
            spec = MergeSpec.builder(m.method(), base.toString())
                    .input(sftAdapter.toString(), m.sft() == null ? Map.of() : m.sft())
                    .input(prefAdapter.toString(), m.preference() == null ? Map.of() : m.preference())
                    .parameters(global)
                    .build();
        }
        if (!st.redo(stage)) {
            OutputDirs.cleanStale(target, OutputDirs.MERGE_FILES); // what a killed run left
        }
        MergeRunner.Result r = MergeRunner.run(spec, new MergeRunner.Options(target, st.redo(stage)));
        st.done(stage);
        log.accept(
                String.format(Locale.ROOT, "merge %-32s %s in %.1fs", target.getFileName(), m.method(), r.seconds()));
    }

    private Map<String, Map<String, String>> sparsity(Path out, List<String> sftNames) {
        List<ReportInput> inputs = new ArrayList<>();
        for (String n : sftNames) {
            inputs.add(ReportInput.adapter(n, out.resolve(n)));
        }
        inputs.add(ReportInput.adapter("preference", out.resolve("preference")));
        SparsityReport r = SparsityReport.compute(inputs, ReportOptions.defaults());
        writeText(out.resolve("sparsity.txt"), ReportFormats.table(r, View.UNSCALED, false));
        Json.write(out.resolve("sparsity.json"), ReportFormats.json(r));
        try {
            SparsityCharts.layers(r, View.UNSCALED, 0, out.resolve("sparsity.png"));
        } catch (ChartImages.ChartUnavailable e) {
            log.accept("sparsity.png not written: " + e.getMessage());
        }
        Map<String, Map<String, String>> extra = new LinkedHashMap<>();
        for (ReportInput in : inputs) {
            double f = r.input(in.label()).meanLayerFraction(View.UNSCALED, 0);
            extra.put(in.label(), Map.of("sparsity<1e-5", String.format(Locale.ROOT, "%.2f%%", 100 * f)));
        }
        return extra;
    }

    static boolean finished(Path trainDir) {
        return TrainState.isFinished(trainDir);
    }

    private static void mkdirs(Path p) {
        try {
            Files.createDirectories(p);
        } catch (IOException e) {
            throw PaftException.io("create", p, e);
        }
    }

    private static void writeText(Path file, String text) {
        try {
            AtomicFiles.writeString(file, text);
        } catch (IOException e) {
            throw PaftException.io("write", file, e);
        }
    }
}
