package dev.paft.train;

import dev.paft.errors.PaftException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * On {@code --resume}, the data files against those the checkpoint's run read ({@link DataFingerprints}, kept in its
 * {@code paft_state.json}); the data content counterpart of {@link ResumeCheck}, which compares their paths.
 *
 * <p>A changed training file or chat template file is refused (exit 2, naming the key, the file and what changed):
 * the checkpoint's position (epoch and micro-batch), shuffle order and step count belong to the old data, so going on
 * silently would train on other examples than the run says. {@code --accept-data-change} continues anyway, said in a
 * warning; the new fingerprints are recorded from then on. {@code data.eval} may change on resume (as its path may):
 * only listed. A checkpoint written before fingerprints were recorded resumes with a note that content was not checked.
 */
public final class DataChangeCheck {
    /** Keys whose change is refused (without {@code --accept-data-change}). */
    static final Set<String> GUARDED = Set.of("data.train", "data.chat_template");

    /** The flag that accepts a change. */
    public static final String ACCEPT_FLAG = "--accept-data-change";

    private DataChangeCheck() {}

    /**
     * The messages to print for resuming {@code checkpoint} (whose state is {@code saved}) with the data now
     * {@code now}; exit 2 for a changed guarded file unless {@code accept}.
     */
    public static List<String> check(
            TrainState saved,
            Path checkpoint,
            Map<String, List<DataFingerprints.FilePrint>> now,
            Map<String, Path> roots,
            boolean accept) {
        List<String> notes = new ArrayList<>();
        if (saved.dataFiles() == null) {
            notes.add("note: " + checkpoint + " was saved by an earlier paft that did not record its data files: their"
                    + " content was not checked (only their paths); checkpoints from now on record it");
            return notes;
        }
        List<String> refused = new ArrayList<>();
        for (String key : DataFingerprints.KEYS) {
            List<DataFingerprints.FilePrint> before = saved.dataFiles().get(key);
            List<DataFingerprints.FilePrint> after = now.get(key);
            if (before == null || after == null) {
                continue; // the key was set or unset: a config change, ResumeCheck's to refuse or allow
            }
            List<String> changes = DataFingerprints.changes(before, after, roots.get(key));
            if (changes.isEmpty()) {
                continue;
            }
            String what = key + " (" + String.join("; ", changes) + ")";
            if (GUARDED.contains(key)) {
                refused.add(what);
            } else {
                notes.add("data changed since " + checkpoint.getFileName() + " (allowed on resume; eval metrics from"
                        + " now on are on the new data): " + what);
            }
        }
        if (refused.isEmpty()) {
            return notes;
        }
        String position = "epoch " + saved.epoch() + ", micro-batch " + saved.microBatch();
        if (accept) {
            notes.add("warning: " + ACCEPT_FLAG + ": the data changed since " + checkpoint + " was saved: "
                    + String.join("; ", refused) + ". Continuing at step " + saved.step() + " (" + position
                    + ") of the new data's shuffled order; its fingerprints are recorded from now on");
            return notes;
        }
        throw PaftException.usage("cannot resume: the data changed since " + checkpoint + " was saved: "
                + String.join("; ", refused) + ". The checkpoint's position (" + position
                + "), shuffle order and step count belong to the old data. Put the old data back, start a new run"
                + " (--overwrite or another output_dir), or pass " + ACCEPT_FLAG + " to continue on the changed data");
    }
}
