package dev.paft.train;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.paft.config.ConfigLoader;
import dev.paft.config.LossType;
import dev.paft.config.PaftConfig;
import dev.paft.config.PreferenceConfig;
import dev.paft.data.DatasetStats;
import dev.paft.data.PreferenceDataset;
import dev.paft.data.PreferenceDatasetReader;
import dev.paft.data.PreferenceExample;
import dev.paft.data.PreferenceOptions;
import dev.paft.data.SftDataset;
import dev.paft.data.SftDatasetReader;
import dev.paft.data.SftExample;
import dev.paft.data.SftOptions;
import dev.paft.data.TextTokenizer;
import dev.paft.data.source.DatasetFiles;
import dev.paft.data.template.ChatTemplate;
import dev.paft.engine.DeviceMemory;
import dev.paft.engine.Tf32;
import dev.paft.errors.PaftException;
import dev.paft.io.HfModelConfig;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraRank;
import dev.paft.model.AttentionKernel;
import dev.paft.model.HfNames;
import dev.paft.model.LlamaModel;
import dev.paft.model.Precision;
import dev.paft.train.loss.L1Penalty;
import dev.paft.train.loss.PreferenceLoss;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The two training recipes, SFT and preference: setup (tokenizer, data, model, adapter), the
 * shared {@link TrainingLoop}, outputs. Recipes compose components; they do not inherit.
 */
public final class Recipes {
    private Recipes() {}

    /**
     * How to run: resume, overwrite, dry run, where to print. Built by name from {@link #defaults()}
     * (a fresh run printing to {@code System.out}), e.g. {@code Options.defaults().withOverwrite(true)}.
     */
    public record Options(
            boolean resume,
            Path resumeFrom,
            boolean overwrite,
            boolean dryRun,
            PrintStream out,
            boolean acceptDataChange) {
        /** A fresh run: no resume, no overwrite, not a dry run, printing to {@code System.out}. */
        public static Options defaults() {
            return new Options(false, null, false, false, System.out, false);
        }

        /** Resume from the newest checkpoint of the output directory. */
        public Options withResume(boolean v) {
            return new Options(v, resumeFrom, overwrite, dryRun, out, acceptDataChange);
        }

        /** Resume from this checkpoint directory (null: none). */
        public Options withResumeFrom(Path v) {
            return new Options(resume, v, overwrite, dryRun, out, acceptDataChange);
        }

        /** Replace an existing output directory. */
        public Options withOverwrite(boolean v) {
            return new Options(resume, resumeFrom, v, dryRun, out, acceptDataChange);
        }

        /** Check config and data, print the plan, train nothing. */
        public Options withDryRun(boolean v) {
            return new Options(resume, resumeFrom, overwrite, v, out, acceptDataChange);
        }

        /** Where the dry run prints. */
        public Options withOut(PrintStream v) {
            return new Options(resume, resumeFrom, overwrite, dryRun, v, acceptDataChange);
        }

        /** On resume, continue although a data file changed since the checkpoint ({@link DataChangeCheck}). */
        public Options withAcceptDataChange(boolean v) {
            return new Options(resume, resumeFrom, overwrite, dryRun, out, v);
        }
    }

    /** The result of a run: its final state (null for a dry run) and the plan. */
    public record Result(TrainState state, TrainPlan plan, Path outputDir) {}

    // ---------------------------------------------------------------- SFT

    /** LoRA SFT with the L1 penalty (PAFT eq. 1). */
    public static Result sft(PaftConfig cfg, Device device, Options o, TrainingLoop.Listener listener) {
        return sft(cfg, device, o, listener, null);
    }

    /** As above, training on {@code shared} (a loaded base, not closed here) when given, so stages share one copy. */
    public static Result sft(
            PaftConfig cfg, Device device, Options o, TrainingLoop.Listener listener, LlamaModel shared) {
        cfg.requireSft();
        try (RunDirectory dir = runDirectory(cfg, o, listener)) {
            return sft(cfg, device, o, listener, shared, dir);
        }
    }

    private static Result sft(
            PaftConfig cfg,
            Device device,
            Options o,
            TrainingLoop.Listener listener,
            LlamaModel shared,
            RunDirectory dir) {
        Path modelDir = Path.of(cfg.model().path());
        Path out = Path.of(cfg.training().outputDir());
        HfModelConfig hf = LlamaModel.check(modelDir); // config.json against the tensors, before reading data
        LoraRank.check(cfg.lora(), HfNames.loraModules(hf, cfg.lora().targetModules()));
        SftOptions opts = new SftOptions(
                cfg.data().maxLength(),
                cfg.data().trainOnPrompt(),
                cfg.data().packing(),
                cfg.data().skipBadRecords());
        Data<SftExample> data = readData(cfg, hf, modelDir, (tok, template) -> {
            SftDatasetReader reader = new SftDatasetReader(tok, template, opts)
                    .requireFormat(cfg.data().format())
                    .fields(cfg.data().fields().asMap());
            return file -> {
                SftDataset d = reader.read(file);
                return new Read<>(d.examples(), d.stats());
            };
        });
        List<SftExample> train = data.train();
        List<SftExample> eval = data.eval();
        int pad = data.pad();
        List<String> notes = data.notes();
        long tokens = 0;
        int maxLen = 0;
        for (SftExample e : train) {
            tokens += e.length();
            maxLen = Math.max(maxLen, e.length());
        }
        TrainPlan plan = plan(
                cfg, hf, train.size(), tokens, eval.size(), cfg.training().batchSize(), maxLen, notes, false, device);
        if (o.dryRun()) {
            printDryRun(o.out(), "train-sft", plan, cfg);
            return new Result(null, plan, out);
        }
        if (listener != null) {
            plan.notes().forEach(listener::onMessage); // examples read, skipped, truncated, dropped
            warnIfTooLarge(plan, listener);
        }
        Tf32.apply(cfg.training().tf32(), device); // training.tf32, process-wide
        L1Penalty l1 = new L1Penalty(cfg.sft().l1Target(), cfg.sft().l1Lambda());
        List<String> curves = List.of("loss", "ce", "eval_loss", "eval_ce");
        LlamaModel model = shared != null
                ? shared
                : LlamaModel.load(modelDir, device, cfg.model().dtype());
        try (LoraAdapter adapter = model.newAdapter(cfg.lora(), cfg.training().seed(), modelDir.toString());
                NDManager root = model.manager().newSubManager()) {
            LoraPolicy policy = new LoraPolicy(
                    model,
                    adapter,
                    cfg.training().gradientCheckpointing(),
                    cfg.training().lossChunkSize(),
                    Precision.resolve(cfg.training().precision(), device));
            TrainingLoop<SftExample> loop =
                    new TrainingLoop<>(cfg.training(), settings(cfg, o, dir, curves, "train-sft", "sft"), listener);
            guard(loop, cfg, o, dir);
            TrainState s = dir.train(() -> loop.run(root, policy, new SftObjective(policy, l1, pad), train, eval));
            return new Result(s, plan, out);
        } finally {
            if (shared == null) {
                model.close();
            }
        }
    }

    // ---------------------------------------------------------------- preference

    /** LoRA DPO (sigmoid, IPO, hinge, label smoothing) or ORPO. */
    public static Result preference(PaftConfig cfg, Device device, Options o, TrainingLoop.Listener listener) {
        return preference(cfg, device, o, listener, null);
    }

    /** As above, training on {@code shared} (a loaded base, not closed here) when given. */
    public static Result preference(
            PaftConfig cfg, Device device, Options o, TrainingLoop.Listener listener, LlamaModel shared) {
        cfg.requirePreference();
        try (RunDirectory dir = runDirectory(cfg, o, listener)) {
            return preference(cfg, device, o, listener, shared, dir);
        }
    }

    private static Result preference(
            PaftConfig cfg,
            Device device,
            Options o,
            TrainingLoop.Listener listener,
            LlamaModel shared,
            RunDirectory dir) {
        Path modelDir = Path.of(cfg.model().path());
        Path out = Path.of(cfg.training().outputDir());
        HfModelConfig hf = LlamaModel.check(modelDir); // config.json against the tensors, before reading data
        LoraRank.check(cfg.lora(), HfNames.loraModules(hf, cfg.lora().targetModules()));
        PreferenceOptions opts = new PreferenceOptions(
                cfg.data().maxLength(), cfg.data().maxPromptLength(), cfg.data().skipBadRecords());
        Data<PreferenceExample> data = readData(cfg, hf, modelDir, (tok, template) -> {
            PreferenceDatasetReader reader = new PreferenceDatasetReader(tok, template, opts)
                    .fields(cfg.data().fields().asMap());
            return file -> {
                PreferenceDataset d = reader.read(file);
                return new Read<>(d.examples(), d.stats());
            };
        });
        List<PreferenceExample> train = data.train();
        List<PreferenceExample> eval = data.eval();
        int pad = data.pad();
        List<String> notes = data.notes();
        long tokens = 0;
        int maxLen = 0;
        for (PreferenceExample e : train) {
            tokens += e.chosenLength() + e.rejectedLength();
            maxLen = Math.max(maxLen, Math.max(e.chosenLength(), e.rejectedLength()));
        }
        boolean perStepReference =
                lossOf(cfg).needsReference() && !cfg.preference().precomputeRef();
        TrainPlan plan = plan(
                cfg,
                hf,
                train.size(),
                tokens,
                eval.size(),
                2 * cfg.training().batchSize(),
                maxLen,
                notes,
                perStepReference,
                device);
        if (o.dryRun()) {
            printDryRun(o.out(), "train-dpo", plan, cfg);
            return new Result(null, plan, out);
        }
        if (listener != null) {
            plan.notes().forEach(listener::onMessage); // examples read, skipped, truncated, dropped
            warnIfTooLarge(plan, listener);
        }
        Tf32.apply(cfg.training().tf32(), device); // training.tf32, process-wide
        PreferenceLoss loss = lossOf(cfg);
        List<String> curves = loss.needsReference()
                ? List.of("loss", "eval_loss", "rewards/accuracies", "eval_rewards/accuracies", "rewards/margins")
                : List.of("loss", "eval_loss", "nll_loss", "log_odds_ratio");
        LlamaModel model = shared != null
                ? shared
                : LlamaModel.load(modelDir, device, cfg.model().dtype());
        try (LoraAdapter adapter = model.newAdapter(cfg.lora(), cfg.training().seed(), modelDir.toString());
                NDManager root = model.manager().newSubManager()) {
            if (cfg.preference().disableDropout()) {
                adapter.disableDropout(); // TRL's disable_dropout=True; adapter_config.json keeps lora.dropout
                if (listener != null && cfg.lora().dropout() > 0) {
                    listener.onMessage("LoRA dropout " + cfg.lora().dropout() + " is off for preference training "
                            + "(preference.disable_dropout, as TRL); --no-disable-dropout keeps it");
                }
            }
            if (listener != null && cfg.preference().labelSmoothing() > 0) {
                listener.onMessage(
                        "preference.label_smoothing " + cfg.preference().labelSmoothing() + ": conservative DPO,"
                                + " as TRL <= 0.28's sigmoid loss (TRL >= 0.29 ignores label_smoothing for sigmoid)");
            }
            LoraPolicy policy = new LoraPolicy(
                    model,
                    adapter,
                    cfg.training().gradientCheckpointing(),
                    cfg.training().lossChunkSize(),
                    Precision.resolve(cfg.training().precision(), device));
            PreferenceObjective objective =
                    new PreferenceObjective(policy, loss, cfg.preference().orpoNll(), pad);
            if (cfg.preference().precomputeRef() && loss.needsReference()) {
                objective.precomputeReference(root, train, cfg.training().batchSize());
                objective.precomputeReference(root, eval, cfg.training().batchSize());
            }
            TrainingLoop<PreferenceExample> loop = new TrainingLoop<>(
                    cfg.training(), settings(cfg, o, dir, curves, "train-dpo", loss.name()), listener);
            guard(loop, cfg, o, dir);
            TrainState s = dir.train(() -> loop.run(root, policy, objective, train, eval));
            return new Result(s, plan, out);
        } finally {
            if (shared == null) {
                model.close();
            }
        }
    }

    /** The preference loss a config names (ORPO's lambda is its beta). */
    public static PreferenceLoss lossOf(PaftConfig cfg) {
        PreferenceConfig p = cfg.preference();
        return p.loss() == LossType.ORPO
                ? PreferenceLoss.create(LossType.ORPO, p.orpoLambda(), 0)
                : PreferenceLoss.create(p.loss(), p.beta(), p.labelSmoothing());
    }

    // ---------------------------------------------------------------- shared setup

    /** Examples of one file and what reading them counted. */
    private record Read<E>(List<E> examples, DatasetStats stats) {}

    /** Training and eval examples, the pad id, and the dataset statistics as report lines. */
    private record Data<E>(List<E> train, List<E> eval, int pad, List<String> notes) {}

    /** Opens the tokenizer and chat template once and reads data.train (and data.eval) with the given reader. */
    private static <E> Data<E> readData(
            PaftConfig cfg,
            HfModelConfig hf,
            Path modelDir,
            BiFunction<TextTokenizer, ChatTemplate, Function<Path, Read<E>>> readerFactory) {
        try (TextTokenizer tok = TextTokenizer.open(tokenizerDir(cfg), hf.vocabSize())) {
            ChatTemplate template =
                    ChatTemplate.loadIfPresent(tokenizerDir(cfg), cfg.data().chatTemplate());
            Function<Path, Read<E>> reader = readerFactory.apply(tok, template);
            List<String> notes = new ArrayList<>();
            Read<E> train = reader.apply(DatasetFiles.select(
                    Path.of(cfg.data().train()), cfg.data().split(), DatasetFiles.TRAIN_SPLITS, "data.split"));
            notes.add("train data: " + train.stats());
            List<E> eval = List.of();
            if (cfg.data().eval() != null) {
                Read<E> e = reader.apply(DatasetFiles.select(
                        Path.of(cfg.data().eval()),
                        cfg.data().evalSplit(),
                        DatasetFiles.EVAL_SPLITS,
                        "data.eval_split"));
                eval = e.examples();
                notes.add("eval data: " + e.stats());
            }
            checkVocab(tok, hf, modelDir);
            return new Data<>(train.examples(), eval, tok.padId(), notes);
        }
    }

    static Path tokenizerDir(PaftConfig cfg) {
        return Path.of(
                cfg.model().tokenizer() != null
                        ? cfg.model().tokenizer()
                        : cfg.model().path());
    }

    private static void checkVocab(TextTokenizer tok, HfModelConfig hf, Path modelDir) {
        int max = Math.max(tok.padId(), Math.max(tok.bosId(), tok.eosId()));
        if (max >= hf.vocabSize()) {
            throw PaftException.badInput(modelDir + ": tokenizer special token id " + max
                    + " is outside the model's vocab_size " + hf.vocabSize());
        }
    }

    private static TrainPlan plan(
            PaftConfig cfg,
            HfModelConfig hf,
            int examples,
            long tokens,
            int evalExamples,
            int rows,
            int maxLen,
            List<String> notes,
            boolean reference,
            Device device) {
        long trainable = TrainPlan.trainableParams(hf, cfg.lora());
        MemoryEstimate memory = MemoryEstimate.of(
                hf,
                cfg.lora(),
                cfg.model().dtype(),
                trainable,
                new MemoryEstimate.Shape(
                        rows,
                        maxLen,
                        cfg.training().gradientCheckpointing(),
                        cfg.training().lossChunkSize(),
                        reference,
                        device != null && device.isGpu(),
                        Precision.requestsBf16(cfg.training().precision(), device != null && device.isGpu()),
                        AttentionKernel.fusedExpected()));
        return new TrainPlan(
                examples,
                tokens,
                evalExamples,
                TrainingLoop.totalSteps(cfg.training(), examples),
                trainable,
                TrainPlan.baseParams(hf),
                memory,
                deviceNote(memory, device),
                notes);
    }

    /** How the estimate compares with the device's memory: a line for the dry run, starting "warning:" when it exceeds it. */
    static String deviceNote(MemoryEstimate memory, Device device) {
        long total = DeviceMemory.totalBytes(device);
        String name = DeviceMemory.name(device);
        if (total <= 0) {
            return "device " + name + ": its memory is unknown, the estimate cannot be checked against it";
        }
        if (memory.total() > total) {
            return "warning: the estimated peak (" + DeviceMemory.gib(memory.total()) + ") exceeds " + name + "'s "
                    + DeviceMemory.gib(total) + (device == null || !device.isGpu() ? " (MemTotal)" : "")
                    + ": lower training.batch_size or data.max_length"
                    + (memory.checkpointing() ? "" : ", turn training.gradient_checkpointing on")
                    + (memory.weightsHalf() ? "" : ", or set model.dtype: bf16");
        }
        return "device " + name + ": " + DeviceMemory.gib(total) + " in all, the estimate fits";
    }

    /** Before training: the dry run's warning when the estimate exceeds (or cannot be checked against) the device. */
    private static void warnIfTooLarge(TrainPlan plan, TrainingLoop.Listener listener) {
        String note = plan.deviceNote();
        if (note != null && (note.startsWith("warning:") || note.contains("unknown"))) {
            listener.onMessage(note.startsWith("warning:") ? note : "note: " + note);
        }
    }

    private static void printDryRun(PrintStream out, String command, TrainPlan plan, PaftConfig cfg) {
        requireFits(
                plan,
                ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                        .getTotalMemorySize());
        out.println(command + " --dry-run: config and data are valid");
        out.print(plan.describe());
        out.println("output: " + cfg.training().outputDir());
    }

    /** A dry run refuses (exit 2) a plan whose estimated peak memory is above the machine's physical memory. */
    static void requireFits(TrainPlan plan, long machineBytes) {
        if (machineBytes > 0 && plan.peakBytes() > machineBytes) {
            throw PaftException.usage(String.format(
                    Locale.ROOT,
                    "--dry-run: the estimated peak memory %.2f GiB"
                            + " does not fit this machine's %.2f GiB: lower training.batch_size, data.max_length or lora.r",
                    plan.peakBytes() / 1073741824.0,
                    machineBytes / 1073741824.0));
        }
    }

    /** The output-directory policy: inputs, lock, stale temporaries, --resume / --overwrite (docs/GUARANTEES.md). */
    private static RunDirectory runDirectory(PaftConfig cfg, Options o, TrainingLoop.Listener listener) {
        if (o.acceptDataChange() && !o.resume() && o.resumeFrom() == null) {
            throw PaftException.usage(DataChangeCheck.ACCEPT_FLAG + " applies only with --resume");
        }
        Path out = Path.of(cfg.training().outputDir()); // checked by requireSft / requirePreference
        return RunDirectory.open(
                cfg,
                out,
                o.resume() || o.resumeFrom() != null,
                o.overwrite(),
                o.dryRun(),
                listener == null ? null : listener::onMessage);
    }

    /**
     * What the loop checks and says beyond its config: the data files' fingerprints (recorded, and compared on
     * resume) and, for an --overwrite built beside the old run, which run a Ctrl-C replaces.
     */
    private static void guard(TrainingLoop<?> loop, PaftConfig cfg, Options o, RunDirectory dir) {
        loop.dataFiles(DataFingerprints.of(cfg), DataFingerprints.roots(cfg), o.acceptDataChange());
        if (dir.isStaging()) {
            loop.replaces(dir.out());
        }
    }

    private static TrainingLoop.Settings settings(
            PaftConfig cfg, Options o, RunDirectory dir, List<String> curves, String title, String method) {
        Path out = dir.out();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("paft.command", title);
        meta.put("paft.method", method);
        return new TrainingLoop.Settings(
                dir.workDir(),
                o.overwrite(),
                o.resume() || o.resumeFrom() != null,
                o.resumeFrom(),
                ConfigLoader.toYaml(cfg),
                meta,
                curves,
                title + " (" + out.getFileName() + ")",
                tokenizerDir(cfg));
    }
}
