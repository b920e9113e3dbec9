package dev.paft.train;

import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.Json;
import dev.paft.io.OutputFiles;
import dev.paft.train.optim.AdamW;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoint directories {@code checkpoint-STEP/} inside a run's output directory, each holding the
 * adapter (PEFT layout: {@code adapter_config.json} + {@code adapter_model.safetensors}, loadable by PEFT unchanged),
 * the tokenizer files, the optimizer state ({@code optimizer.bin}, see {@code AdamW.write}), paft's resume position
 * ({@code paft_state.json}) and transformers' {@code trainer_state.json} with the log history so far.
 * A checkpoint is built in a temporary sibling and renamed when complete, so a killed process
 * never leaves a half-written one; only the newest {@code keep} are kept.
 */
public final class Checkpoints {
    static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");
    static final String OPTIMIZER = "optimizer.bin";

    private Checkpoints() {}

    /** A loaded checkpoint. */
    public record Loaded(Path dir, TrainState state, Map<String, AdamW.ParamState> optimizer) {}

    /**
     * Saves a checkpoint; {@code extraFiles} writes further files into the (temporary) checkpoint directory before
     * it is committed.
     */
    public static Path save(
            Path outputDir,
            TrainableModel model,
            AdamW optimizer,
            TrainState state,
            Map<String, String> metadata,
            int keep,
            Consumer<Path> extraFiles) {
        Path target = outputDir.resolve("checkpoint-" + state.step());
        Path tmp = AtomicFiles.tempDirFor(target);
        model.saveAdapter(tmp, metadata);
        if (extraFiles != null) {
            extraFiles.accept(tmp);
        }
        try (DataOutputStream out =
                new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp.resolve(OPTIMIZER))))) {
            AdamW.write(optimizer.exportState(), out);
        } catch (IOException e) {
            throw PaftException.io("write", tmp.resolve(OPTIMIZER), e);
        }
        Json.write(tmp.resolve(TrainState.FILE), state);
        AtomicFiles.commitDir(tmp, target, true);
        prune(outputDir, keep);
        return target;
    }

    /** Complete checkpoints, oldest first. */
    public static List<Path> list(Path outputDir) {
        if (!Files.isDirectory(outputDir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(outputDir)) {
            return s.filter(p -> NAME.matcher(p.getFileName().toString()).matches())
                    .filter(TrainState::exists)
                    .sorted(Comparator.comparingInt(Checkpoints::stepOf))
                    .toList();
        } catch (IOException e) {
            throw PaftException.badInput(outputDir + ": cannot list checkpoints: " + e.getMessage(), e);
        }
    }

    public static Optional<Path> latest(Path outputDir) {
        List<Path> all = list(outputDir);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    static int stepOf(Path p) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    static void prune(Path outputDir, int keep) {
        List<Path> all = list(outputDir);
        for (int i = 0; i < all.size() - keep; i++) {
            AtomicFiles.deleteQuietly(all.get(i));
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return -1;
        }
    }

    /** Reads a checkpoint's state and optimizer; the caller loads the adapter into the model. */
    public static Loaded load(Path dir) {
        TrainState state = TrainState.read(dir)
                .orElseThrow(() -> PaftException.badInput(dir + ": not a checkpoint (no " + TrainState.FILE + ")"));
        Path opt = dir.resolve(OPTIMIZER);
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(opt)))) {
            return new Loaded(dir, state, AdamW.read(in));
        } catch (EOFException e) {
            throw PaftException.badInput(
                    opt + ": truncated (the file ends after " + size(opt) + " bytes, inside the optimizer state); "
                            + "this checkpoint is incomplete: resume from an earlier one with --resume-from, or start over with --overwrite",
                    e);
        } catch (NoSuchFileException e) {
            throw PaftException.badInput(opt + ": missing; " + dir + " is not a complete checkpoint", e);
        } catch (PaftException e) {
            throw PaftException.badInput(opt + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw PaftException.badInput(opt + ": unreadable: " + OutputFiles.reason(e), e);
        }
    }
}
