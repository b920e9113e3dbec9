package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.paft.config.TrainingConfig;
import dev.paft.data.Batches;
import dev.paft.data.Shuffle;
import dev.paft.engine.GradMode;
import dev.paft.engine.Torch;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.Json;
import dev.paft.train.optim.AdamW;
import dev.paft.train.optim.GradClip;
import dev.paft.train.optim.LrSchedule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one training loop shared by train-sft and train-dpo: seeded shuffling, gradient
 * accumulation, global-norm clipping, AdamW, warm-up + decay schedule, periodic eval, metrics,
 * checkpoints, bit-exact resume, NaN/Inf stop and SIGINT checkpointing.
 *
 * <p>Each optimizer step consumes {@code grad_accum} micro-batches of {@code batch_size} examples,
 * taken in order from each epoch's seeded permutation (a step may span an epoch boundary). Every
 * micro-batch runs in its own NDManager scope, and the dropout stream is re-seeded from
 * (seed, step, micro-batch), so a run resumed from a checkpoint repeats the uninterrupted run
 * bit for bit on CPU.
 */
public final class TrainingLoop<E> {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingLoop.class);

    /**
     * Run-level settings beyond the training config.
     *
     * @param tokenizerDir whose tokenizer files are copied into every checkpoint and the final output (null: none)
     */
    public record Settings(
            Path outputDir,
            boolean overwrite,
            boolean resume,
            Path resumeFrom,
            String resolvedConfigYaml,
            Map<String, String> adapterMetadata,
            List<String> curveKeys,
            String title,
            Path tokenizerDir) {}

    /** Receives progress; the CLI draws a bar or log lines from it. */
    public interface Listener {
        default void onStart(TrainState state) {}

        default void onStep(TrainState state, Map<String, Object> metrics) {}

        default void onEval(TrainState state, Map<String, Object> metrics) {}

        default void onMessage(String message) {}

        default void onEnd(TrainState state) {}
    }

    /**
     * The step seam: {@link #microStep} marks the end of its "forward" and "backward" phases here, so a
     * benchmark times the loop's own step phase by phase (the training benchmark, {@code TrainBench phases}).
     */
    public interface StepClock {
        StepClock NONE = phase -> {};

        void mark(String phase);
    }

    private final TrainingConfig cfg;
    private final Settings settings;
    private final Listener listener;
    private final AtomicBoolean interrupted = new AtomicBoolean();
    private final DivergenceGuard divergence;
    /** Optimizer steps finished so far, and how many had finished when the interrupt came (-1: none came). */
    private volatile int stepsDone;

    private volatile int stepsAtInterrupt = -1;
    private Map<String, List<DataFingerprints.FilePrint>> dataFiles;
    private Map<String, Path> dataRoots = Map.of();
    private boolean acceptDataChange;
    private Path replaces;

    public TrainingLoop(TrainingConfig cfg, Settings settings, Listener listener) {
        this.cfg = cfg;
        this.settings = settings;
        this.listener = listener == null ? new Listener() {} : listener;
        this.divergence = new DivergenceGuard(this.listener::onMessage);
    }

    /** Micro-batches per epoch. */
    public static int microBatchesPerEpoch(int examples, int batchSize) {
        return (examples + batchSize - 1) / batchSize;
    }

    /** Total optimizer steps: {@code max_steps}, or epochs x ceil(micro-batches / grad_accum). */
    public static int totalSteps(TrainingConfig cfg, int examples) {
        if (cfg.maxSteps() > 0) {
            return cfg.maxSteps();
        }
        int perEpoch = (microBatchesPerEpoch(examples, cfg.batchSize()) + cfg.gradAccum() - 1) / cfg.gradAccum();
        return Math.max(1, (int) Math.ceil(cfg.epochs() * perEpoch));
    }

    /** Requests a graceful stop (checkpoint, then exit); wired to SIGINT by the CLI. */
    public void interrupt() {
        if (interrupted.compareAndSet(false, true)) {
            stepsAtInterrupt = stepsDone;
        }
    }

    /**
     * The data files this run reads ({@link DataFingerprints}), recorded in every state it saves and, on resume,
     * compared with the checkpoint's ({@link DataChangeCheck}): a changed training file is refused unless
     * {@code acceptChange}. {@code roots} are the configured paths, to name the files in messages.
     */
    public TrainingLoop<E> dataFiles(
            Map<String, List<DataFingerprints.FilePrint>> files, Map<String, Path> roots, boolean acceptChange) {
        this.dataFiles = files;
        this.dataRoots = roots == null ? Map.of() : roots;
        this.acceptDataChange = acceptChange;
        return this;
    }

    /** This run is an --overwrite built beside {@code out}: Ctrl-C says what happens to the previous run there. */
    public TrainingLoop<E> replaces(Path out) {
        this.replaces = out;
        return this;
    }

    /** What the first Ctrl-C prints. */
    private String interruptMessage() {
        String s = "paft: interrupt received; saving a checkpoint after this step";
        if (replaces == null) {
            return s + " (Ctrl-C again to quit now)";
        }
        return stepsAtInterrupt >= 1
                ? s + "; this run then takes the place of the previous run in " + replaces
                        + " (--overwrite) and continues with --resume. Ctrl-C again to quit now and keep the previous run"
                : s + "; no step has finished yet, so the previous run in " + replaces
                        + " is kept (Ctrl-C again to quit now)";
    }

    /**
     * A graceful stop on Ctrl-C: the checkpoint saved, and how many optimizer steps had finished when the interrupt
     * came (an --overwrite run replaces the previous run only when at least one had: {@link RunDirectory#train}).
     */
    public static final class Interrupted extends PaftException {
        private final Path checkpoint;
        private final int stepsAtInterrupt;

        Interrupted(Path checkpoint, int stepsAtInterrupt) {
            super(INTERRUPTED, "interrupted: checkpoint saved at " + checkpoint + "; continue with --resume");
            this.checkpoint = checkpoint;
            this.stepsAtInterrupt = stepsAtInterrupt;
        }

        public Path checkpoint() {
            return checkpoint;
        }

        public int stepsAtInterrupt() {
            return stepsAtInterrupt;
        }
    }

    /**
     * Trains {@code model} on {@code train} (evaluating on {@code eval} when non-empty) and writes
     * the final adapter, resolved config, metrics and curves into the output directory.
     */
    public TrainState run(NDManager root, TrainableModel model, Objective<E> objective, List<E> train, List<E> eval) {
        if (train.isEmpty()) {
            throw PaftException.badInput("the training set is empty");
        }
        Path out = settings.outputDir();
        prepareOutputDir(out);
        int total = totalSteps(cfg, train.size());
        int perEpoch = microBatchesPerEpoch(train.size(), cfg.batchSize());
        LrSchedule schedule = new LrSchedule(
                cfg.scheduler(),
                cfg.learningRate(),
                LrSchedule.warmupSteps(total, cfg.warmupRatio(), cfg.warmupSteps()),
                total);
        Map<String, NDArray> params = model.parameters();

        try (AdamW optimizer = new AdamW(
                root, new AdamW.Config(cfg.adamBeta1(), cfg.adamBeta2(), cfg.adamEpsilon(), cfg.weightDecay()))) {
            TrainState state = new TrainState(0, total, 0, 0, 0, false);
            Optional<Path> resumeDir = resumeCheckpoint(out);
            if (resumeDir.isPresent()) {
                Checkpoints.Loaded ck = Checkpoints.load(resumeDir.get());
                model.loadAdapter(resumeDir.get());
                optimizer.importState(
                        ck.optimizer(), params.values().iterator().next().getDevice());
                state = new TrainState(
                        ck.state().step(),
                        total,
                        ck.state().epoch(),
                        ck.state().microBatch(),
                        ck.state().tokens(),
                        false);
                listener.onMessage("resumed from " + resumeDir.get() + " at step " + state.step() + " of " + total);
                writeResolvedConfig(out, resumeDir);
                if (dataFiles != null) {
                    DataChangeCheck.check(ck.state(), resumeDir.get(), dataFiles, dataRoots, acceptDataChange)
                            .forEach(listener::onMessage);
                }
            } else {
                writeResolvedConfig(out, resumeDir);
            }
            stepsDone = state.step();
            listener.onStart(state);
            try (MetricsLog metrics = MetricsLog.open(out, resumeDir.isPresent() ? state.step() : -1);
                    TensorBoardLog tensorBoard = TensorBoardLog.open(out);
                    SignalGuard guard = SignalGuard.install(this::interrupt, this::interruptMessage)) {
                HfTrainerState hfState = new HfTrainerState(cfg, train.size());
                if (resumeDir.isPresent()) {
                    hfState.addAll(MetricsLog.read(out.resolve(MetricsLog.FILE))); // the records up to the checkpoint
                }
                RunFiles files = new RunFiles(metrics, tensorBoard, hfState, settings.tokenizerDir());
                long started = System.nanoTime();
                int startStep = state.step();
                Path lastCheckpoint = resumeDir.orElse(null);
                List<E> order = Shuffle.shuffled(train, cfg.seed(), state.epoch());
                int orderEpoch = state.epoch();
                long windowStart = System.nanoTime();
                long windowTokens = 0;
                Map<String, Double> window = new LinkedHashMap<>();
                int windowSteps = 0;
                while (state.step() < total) {
                    // 1. Forward and backward over grad_accum micro-batches, each weighted by its share of the step.
                    Map<String, Double> stepMetrics = new LinkedHashMap<>();
                    int epoch = state.epoch();
                    int mb = state.microBatch();
                    List<List<E>> micro = new ArrayList<>(cfg.gradAccum());
                    for (int k = 0; k < cfg.gradAccum(); k++) {
                        if (mb >= perEpoch) {
                            epoch++;
                            mb = 0;
                        }
                        if (orderEpoch != epoch) {
                            order = Shuffle.shuffled(train, cfg.seed(), epoch);
                            orderEpoch = epoch;
                        }
                        micro.add(order.subList(
                                mb * cfg.batchSize(), Math.min(order.size(), (mb + 1) * cfg.batchSize())));
                        mb++;
                    }
                    double[] scale = accumulationScales(objective, micro);
                    long stepTokens = 0;
                    for (int k = 0; k < micro.size(); k++) {
                        model.seedDropout(mix(cfg.seed(), state.step(), k));
                        stepTokens += microStep(root, objective, micro.get(k), scale[k], stepMetrics, StepClock.NONE);
                    }

                    // 2. Clip, check, update.
                    double lr = schedule.lr(state.step());
                    double gradNorm = clipAndCheck(root, params, stepMetrics, state, lastCheckpoint);
                    optimizer.step(params, lr);
                    zeroGradients(params);

                    state = new TrainState(state.step() + 1, total, epoch, mb, state.tokens() + stepTokens, false);
                    stepsDone = state.step();
                    windowTokens += stepTokens;
                    windowSteps++;
                    stepMetrics.put("grad_norm", gradNorm);
                    stepMetrics.forEach((key, v) -> window.merge(key, v, Double::sum));

                    // 3. Log, evaluate, checkpoint.
                    boolean last = state.step() == total;
                    if (state.step() % cfg.logSteps() == 0 || last) {
                        double secs = (System.nanoTime() - windowStart) / 1e9;
                        Map<String, Object> rec = record(state, perEpoch, lr);
                        final int n = windowSteps;
                        window.forEach((key, v) -> rec.put(key, v / n));
                        rec.put("tokens_per_s", secs > 0 ? windowTokens / secs : 0.0);
                        files.log(state.step(), rec);
                        listener.onStep(state, rec);
                        window.clear();
                        windowSteps = 0;
                        windowTokens = 0;
                        windowStart = System.nanoTime();
                    }
                    if (!eval.isEmpty() && ((cfg.evalSteps() > 0 && state.step() % cfg.evalSteps() == 0) || last)) {
                        Map<String, Object> rec = new LinkedHashMap<>();
                        rec.put("step", state.step());
                        rec.put("epoch", epochOf(state, perEpoch));
                        long evalStart = System.nanoTime();
                        evaluate(root, objective, eval).forEach((key, v) -> rec.put("eval_" + key, v));
                        double evalSecs = (System.nanoTime() - evalStart) / 1e9;
                        rec.put("eval_runtime", evalSecs);
                        rec.put("eval_samples_per_second", evalSecs > 0 ? eval.size() / evalSecs : 0.0);
                        files.log(state.step(), rec);
                        listener.onEval(state, rec);
                    }
                    boolean stop = interrupted.get();
                    if ((cfg.saveSteps() > 0 && state.step() % cfg.saveSteps() == 0) || stop) {
                        final TrainState at = state;
                        final double epochAt = epochOf(at, perEpoch);
                        lastCheckpoint = Checkpoints.save(
                                out,
                                model,
                                optimizer,
                                state.withDataFiles(dataFiles),
                                settings.adapterMetadata(),
                                cfg.saveTotalLimit(),
                                dir -> files.writeRunFiles(dir, at, epochAt));
                    }
                    if (stop && !last) {
                        throw new Interrupted(lastCheckpoint, stepsAtInterrupt);
                    }
                }
                // 4. The final adapter, run files, curves, and the finished marker last.
                model.saveAdapter(out, settings.adapterMetadata());
                double seconds = (System.nanoTime() - started) / 1e9;
                long samples = (long) (state.step() - startStep) * cfg.batchSize() * cfg.gradAccum();
                hfState.addSummary(state, epochOf(state, perEpoch), seconds, samples);
                files.writeRunFiles(out, state, epochOf(state, perEpoch));
                if (settings.curveKeys() != null && !settings.curveKeys().isEmpty()) {
                    LossCurves.plot(
                            out.resolve(MetricsLog.FILE),
                            out.resolve("loss.png"),
                            settings.title(),
                            settings.curveKeys());
                }
                state = state.finish().withDataFiles(dataFiles);
                Json.write(out.resolve(TrainState.FILE), state);
                listener.onEnd(state);
                return state;
            }
        }
    }

    /**
     * Loss scale of each micro-batch of one step: {@code weight_k / sum_j weight_j} ({@link Objective#weight}),
     * so the step's gradient is that of the weighted mean loss; equal shares when every weight is 0.
     */
    static <E> double[] accumulationScales(Objective<E> objective, List<List<E>> micro) {
        double[] w = new double[micro.size()];
        double total = 0;
        for (int k = 0; k < w.length; k++) {
            w[k] = objective.weight(micro.get(k));
            total += w[k];
        }
        for (int k = 0; k < w.length; k++) {
            w[k] = total > 0 ? w[k] / total : 1.0 / w.length;
        }
        return w;
    }

    /**
     * The backward of one micro-batch's output with its loss scaled by {@code scale}: autograd through the loss
     * (into the per-row log-prob sums and the L1 term), then the rest ({@link Objective.Output#backward}: the
     * chunked LM head and the decoder layers). Gradients accumulate into the adapter's factors.
     */
    public static void backward(NDManager scope, Objective.Output o, double scale) {
        NDArray scaled =
                o.loss().mul(scope.create((float) scale)); // constant as a tensor (docs/ENGINE-NOTES.md, trap 1)
        Torch.backward(scaled, scope.ones(scaled.getShape()));
        if (o.backward() != null) {
            o.backward().run();
        }
    }

    /**
     * Forward and backward of one micro-batch with its loss scaled by {@code scale}; metrics added, scaled;
     * the micro-batch's tokens returned. {@code clock} marks the end of "forward" and of "backward".
     */
    public static <T> long microStep(
            NDManager root,
            Objective<T> objective,
            List<T> batch,
            double scale,
            Map<String, Double> sums,
            StepClock clock) {
        try (NDManager scope = root.newSubManager();
                GradMode on = GradMode.on()) {
            Objective.Output o = objective.forward(scope, batch, true);
            clock.mark("forward");
            backward(scope, o, scale);
            sums.merge("loss", scale * o.loss().getFloat(), Double::sum);
            o.metrics()
                    .forEach((key, v) -> sums.merge(
                            key, scale * v.toType(DataType.FLOAT32, false).getFloat(), Double::sum));
            clock.mark("backward");
            return o.tokens();
        }
    }

    private double clipAndCheck(
            NDManager root, Map<String, NDArray> params, Map<String, Double> m, TrainState state, Path lastCheckpoint) {
        double norm = clipGradients(root, params, cfg.maxGradNorm());
        double loss = m.getOrDefault("loss", 0.0);
        if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
            Optional<Path> good = GoodCheckpoint.before(settings.outputDir(), lastCheckpoint, Integer.MAX_VALUE);
            throw PaftException.numeric("non-finite "
                    + (!Double.isFinite(loss) ? "loss (" + loss + ")" : "gradient norm (" + norm + ")")
                    + " at step " + (state.step() + 1) + "; training stopped, "
                    + GoodCheckpoint.describe(good, lastCheckpoint) + ". Lower the learning rate or check the data.");
        }
        divergence.observe(
                state.step() + 1,
                loss,
                norm,
                first -> GoodCheckpoint.describe(
                                GoodCheckpoint.before(settings.outputDir(), lastCheckpoint, first - 1), lastCheckpoint)
                        + ".");
        return norm;
    }

    /** Global-norm clipping of the parameters' gradients to {@code maxNorm} (none when <= 0); returns the norm before clipping. */
    public static double clipGradients(NDManager root, Map<String, NDArray> params, double maxNorm) {
        try (NDManager scope = root.newSubManager()) {
            List<NDArray> grads = new ArrayList<>();
            for (NDArray p : params.values()) {
                NDArray g = p.getGradient();
                g.attach(scope);
                grads.add(g);
            }
            return GradClip.clipGradNorm(grads, maxNorm > 0 ? maxNorm : Double.MAX_VALUE);
        }
    }

    /** Sets every parameter's accumulated gradient to zero (after each optimizer step). */
    public static void zeroGradients(Map<String, NDArray> params) {
        for (NDArray p : params.values()) {
            Torch.zeroGrad(p);
        }
    }

    /** Mean metrics of {@code objective} over {@code eval}, without gradients or dropout. */
    public Map<String, Double> evaluate(NDManager root, Objective<E> objective, List<E> eval) {
        Map<String, Double> sums = new LinkedHashMap<>();
        int batches = 0;
        try (GradMode off = GradMode.off()) {
            for (List<E> batch : Batches.chunks(eval, cfg.batchSize(), false)) {
                try (NDManager scope = root.newSubManager()) {
                    Objective.Output o = objective.forward(scope, batch, false);
                    sums.merge("loss", (double) o.loss().getFloat(), Double::sum);
                    o.metrics()
                            .forEach((key, v) -> sums.merge(
                                    key,
                                    (double) v.toType(DataType.FLOAT32, false).getFloat(),
                                    Double::sum));
                }
                batches++;
            }
        }
        final int n = batches;
        sums.replaceAll((k, v) -> v / n);
        return sums;
    }

    /** The fractional epoch of a state, as transformers logs it. */
    private static double epochOf(TrainState s, int perEpoch) {
        return s.epoch() + (double) s.microBatch() / perEpoch;
    }

    private Map<String, Object> record(TrainState s, int perEpoch, double lr) {
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("step", s.step());
        rec.put("epoch", epochOf(s, perEpoch));
        rec.put("learning_rate", lr);
        rec.put("num_tokens", s.tokens());
        return rec;
    }

    /** A 64-bit mix of (seed, step, micro-batch): the dropout seed of one micro-batch. */
    static long mix(long seed, int step, int micro) {
        long z = seed * 0x9E3779B97F4A7C15L + step * 0xBF58476D1CE4E5B9L + micro * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * The output policy (inputs, lock, --overwrite beside the old run, temporaries) is
     * {@link RunDirectory}'s, applied before the loop; here only its checks, and never a delete.
     */
    private void prepareOutputDir(Path out) {
        RunDirectory.classify(out, settings.resume(), false);
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw PaftException.io("prepare output directory", out, e);
        }
    }

    private Optional<Path> resumeCheckpoint(Path out) {
        if (settings.resumeFrom() != null) {
            return Optional.of(settings.resumeFrom());
        }
        if (!settings.resume()) {
            return Optional.empty();
        }
        Optional<Path> latest = Checkpoints.latest(out);
        if (latest.isEmpty()) {
            listener.onMessage("no checkpoint in " + out + "; starting from step 0");
        }
        return latest;
    }

    /**
     * Writes {@code training_config.yaml}. On resume the old one is compared first
     * ({@link ResumeCheck}): unsafe changes stop the run (exit 2); safe ones are listed, then
     * written; an unchanged config leaves the file untouched.
     */
    private void writeResolvedConfig(Path out, Optional<Path> resumedFrom) {
        if (settings.resolvedConfigYaml() == null) {
            return;
        }
        Path file = out.resolve("training_config.yaml");
        try {
            if (resumedFrom.isPresent()) {
                Path old = Files.isRegularFile(file)
                        ? file
                        : resumedFrom.get().toAbsolutePath().getParent().resolve("training_config.yaml");
                if (Files.isRegularFile(old)) {
                    List<ResumeCheck.Change> changes =
                            ResumeCheck.check(Files.readString(old), settings.resolvedConfigYaml(), old.toString());
                    if (changes.isEmpty() && old.equals(file)) {
                        return;
                    }
                    if (!changes.isEmpty()) {
                        listener.onMessage("resume with changed settings (safe on resume): "
                                + changes.stream()
                                        .map(Object::toString)
                                        .reduce((x, y) -> x + "; " + y)
                                        .orElse("") + "; training_config.yaml updated");
                    }
                }
            }
            AtomicFiles.writeString(file, settings.resolvedConfigYaml());
        } catch (IOException e) {
            throw PaftException.io("write the resolved config", file, e);
        }
    }
}
