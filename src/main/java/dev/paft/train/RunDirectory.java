package dev.paft.train;

import dev.paft.config.PaftConfig;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.OutputDirs;
import dev.paft.io.OutputLock;
import dev.paft.io.PeftAdapter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The output-directory policy of a training run (see docs/GUARANTEES.md):
 *
 * <ol>
 *   <li>the output directory is never an input (base model, tokenizer, data) nor contains one;</li>
 *   <li>one process at a time: an {@link OutputLock} is held for the whole run;</li>
 *   <li>temporaries left by a killed run into the same output are removed first;</li>
 *   <li>a directory holding a run needs {@code --resume} or {@code --overwrite}; one holding files
 *       paft did not write is refused (paft never deletes them);</li>
 *   <li>{@code --overwrite} trains into a hidden sibling ({@code .NAME.tmp-PID}) and swaps it in
 *       only when the new run finished, so a failed or killed new run leaves the old run as it was;
 *       a run paused by Ctrl-C after its first optimizer step is swapped in too, to be resumed.</li>
 * </ol>
 */
public final class RunDirectory implements AutoCloseable {
    private static final Set<String> FILES = Set.of(
            PeftAdapter.WEIGHTS_FILE,
            PeftAdapter.CONFIG_FILE,
            TrainState.FILE,
            TrainState.LEGACY_FILE,
            MetricsLog.FILE,
            "training_config.yaml",
            "loss.png",
            "runs");
    /** The names a training run writes into its output directory (TensorBoard's {@code runs/}, the tokenizer files too). */
    public static final Predicate<String> OWNED = name -> FILES.contains(name)
            || RunFiles.TOKENIZER_FILES.contains(name)
            || Checkpoints.NAME.matcher(name).matches();

    private final Path out;
    private final Path work;
    private final OutputLock lock;
    private boolean committed;

    private RunDirectory(Path out, Path work, OutputLock lock) {
        this.out = out;
        this.work = work;
        this.lock = lock;
    }

    /** Checks, locks and prepares the output of a run of {@code cfg} (checks only, no lock, for a dry run). */
    public static RunDirectory open(
            PaftConfig cfg, Path out, boolean resume, boolean overwrite, boolean dryRun, Consumer<String> log) {
        OutputDirs.refuseInputs(out, inputsOf(cfg));
        if (dryRun) {
            classify(out, resume, overwrite);
            return new RunDirectory(out, out, null);
        }
        OutputLock lock = OutputLock.acquire(out);
        try {
            List<Path> removed = OutputDirs.cleanStale(out, OWNED);
            if (!removed.isEmpty() && log != null) {
                log.accept("removed " + removed.size() + " temporary file(s) left by an earlier run: " + removed.get(0)
                        + (removed.size() > 1 ? " ..." : ""));
            }
            boolean staging = classify(out, resume, overwrite);
            Path work = out;
            if (staging) {
                work = AtomicFiles.tempDirFor(out);
                if (log != null) {
                    log.accept("--overwrite: training into " + work.getFileName() + "; " + out
                            + " is replaced only when this run finishes");
                }
            } else {
                Files.createDirectories(out);
            }
            return new RunDirectory(out, work, lock);
        } catch (IOException e) {
            lock.close();
            throw PaftException.io("prepare output directory", out, e);
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** Whether the run must be built beside {@code out} (an --overwrite of an existing run); exit 2 for what is refused. */
    static boolean classify(Path out, boolean resume, boolean overwrite) {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw PaftException.usage("the output " + out + " is a file, not a directory");
        }
        boolean finished = TrainState.isFinished(out);
        boolean checkpoints = !Checkpoints.list(out).isEmpty();
        if (resume) {
            if (finished) {
                throw PaftException.usage(
                        out + " holds a finished run; nothing to resume (use --overwrite to train again)");
            }
            return false;
        }
        if (finished || checkpoints) {
            if (!overwrite) {
                throw PaftException.usage(
                        finished
                                ? out
                                        + " holds a finished run; pass --overwrite to replace it (or choose another output_dir)"
                                : out
                                        + " holds checkpoints of an unfinished run; pass --resume to continue it or --overwrite to start over");
            }
            OutputDirs.requireOnlyOwned(out, OWNED, "--overwrite");
            return true;
        }
        List<String> foreign = OutputDirs.foreignEntries(out, OWNED);
        if (!foreign.isEmpty()) {
            throw PaftException.usage(out + " is not empty and holds no paft run ("
                    + String.join(", ", foreign.subList(0, Math.min(3, foreign.size())))
                    + (foreign.size() > 3 ? ", ..." : "") + "); choose a new or empty output directory");
        }
        return false; // missing, empty, or only what a run killed before its first checkpoint wrote
    }

    /**
     * Runs {@code training} in {@link #workDir()}. An --overwrite run that fails is discarded and says so; one paused
     * by Ctrl-C after at least one optimizer step finished takes the old run's place (with its checkpoint, to go on
     * with {@code --resume}): the user asked for the old run to be replaced, and the new one holds the work.
     */
    public TrainState train(Supplier<TrainState> training) {
        try {
            TrainState s = training.get();
            commit();
            return s;
        } catch (TrainingLoop.Interrupted e) {
            if (!isStaging()) {
                throw e;
            }
            if (e.stepsAtInterrupt() < 1) {
                throw new PaftException(
                        PaftException.INTERRUPTED,
                        "interrupted before the first optimizer step finished: the new run was discarded; the previous run in "
                                + out + " is unchanged",
                        e);
            }
            commit();
            throw new Replaced(
                    "interrupted: checkpoint saved at "
                            + out.resolve(e.checkpoint().getFileName())
                            + "; this run replaced the previous run in " + out
                            + " (--overwrite); continue it with --resume",
                    e);
        } catch (PaftException e) {
            if (isStaging() && e.exitCode() == PaftException.INTERRUPTED) {
                throw new PaftException(
                        PaftException.INTERRUPTED,
                        "interrupted: the new run was discarded; the previous run in " + out + " is unchanged",
                        e);
            }
            if (isStaging()) {
                throw new PaftException(
                        e.exitCode(),
                        e.getMessage() + " The new run was discarded (its checkpoints with it); the previous run in "
                                + out + " is unchanged.",
                        e);
            }
            throw e;
        }
    }

    /** Exit 130: an --overwrite run paused by Ctrl-C that took the old run's place (to be continued with --resume). */
    public static final class Replaced extends PaftException {
        Replaced(String message, Throwable cause) {
            super(INTERRUPTED, message, cause);
        }
    }

    /** Puts a finished --overwrite run in place of the old one (nothing to do for a run trained in place). */
    public void commit() {
        if (isStaging() && !committed) {
            AtomicFiles.commitDir(work, out, true);
        }
        committed = true;
    }

    /** Where the training loop writes: the output itself, or the hidden sibling of an --overwrite. */
    public Path workDir() {
        return work;
    }

    public Path out() {
        return out;
    }

    public boolean isStaging() {
        return !work.equals(out);
    }

    @Override
    public void close() {
        try {
            if (isStaging() && !committed) {
                AtomicFiles.deleteQuietly(work);
            }
        } finally {
            if (lock != null) {
                lock.close();
            }
        }
    }

    /** The paths a training run reads: model, tokenizer, data files, a chat template file. */
    static Map<String, Path> inputsOf(PaftConfig cfg) {
        Map<String, Path> in = new LinkedHashMap<>();
        in.put("base model (model.path)", path(cfg.model().path()));
        in.put("tokenizer (model.tokenizer)", path(cfg.model().tokenizer()));
        in.put("training data (data.train)", path(cfg.data().train()));
        in.put("eval data (data.eval)", path(cfg.data().eval()));
        String t = cfg.data().chatTemplate();
        if (t != null && !t.contains("{") && t.length() < 4096) {
            in.put("chat template file (data.chat_template)", path(t));
        }
        return in;
    }

    private static Path path(String s) {
        try {
            return s == null || s.isBlank() ? null : Path.of(s);
        } catch (RuntimeException e) {
            return null;
        }
    }
}
