package dev.paft.train;

import dev.paft.io.PeftAdapter;
import dev.paft.io.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The checkpoint a stopped run can be resumed from: the newest one whose adapter weights are all
 * finite. A weight update can turn the adapter non-finite one step before the loss shows it, so
 * the checkpoint saved in between is checked before it is called good.
 */
public final class GoodCheckpoint {
    private GoodCheckpoint() {}

    /**
     * The newest complete checkpoint of {@code outputDir} at a step {@code <= maxStep} whose adapter
     * is finite. {@code last} (the checkpoint this process saved last, may be null) is included.
     */
    public static Optional<Path> before(Path outputDir, Path last, int maxStep) {
        List<Path> all = Checkpoints.list(outputDir);
        for (int i = all.size() - 1; i >= 0; i--) {
            Path p = all.get(i);
            if (Checkpoints.stepOf(p) <= maxStep && finite(p)) {
                return Optional.of(p);
            }
        }
        if (last != null && !all.contains(last) && Checkpoints.stepOf(last) <= maxStep && finite(last)) {
            return Optional.of(last);
        }
        return Optional.empty();
    }

    /** "last good checkpoint: X", or why there is none. */
    public static String describe(Optional<Path> good, Path last) {
        if (good.isPresent()) {
            return "last good checkpoint: " + good.get() + " (resume with --resume-from " + good.get() + ")";
        }
        if (last == null) {
            return "no checkpoint was saved yet";
        }
        return "no good checkpoint is left (the newest, " + last + ", holds non-finite or diverged weights)";
    }

    /** Whether every weight of a checkpoint's adapter is finite (false when unreadable). */
    public static boolean finite(Path checkpoint) {
        Path weights = checkpoint.resolve(PeftAdapter.WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            return false;
        }
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            for (String name : f.tensors().keySet()) {
                for (float v : f.readFloats(name)) {
                    if (!Float.isFinite(v)) {
                        return false;
                    }
                }
            }
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
