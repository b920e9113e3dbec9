package dev.paft.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.errors.PaftException;
import dev.paft.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where a run stands, saved in every checkpoint and, last of all, in the finished output directory as
 * {@code paft_state.json} (beside transformers' {@code trainer_state.json}, which cannot hold it: transformers
 * builds its dataclass from exactly its own keys).
 *
 * @param step optimizer steps done
 * @param totalSteps optimizer steps the run will make
 * @param epoch the epoch the next micro-batch comes from
 * @param microBatch index of the next micro-batch within that epoch's shuffled order
 * @param tokens tokens processed so far
 * @param finished true once the final adapter is written
 * @param dataFiles the data files the run read, per data key ({@link DataFingerprints}); null in a state written by
 *     a paft before data fingerprints (its data content cannot be checked on resume), and left out of the file then
 */
public record TrainState(
        int step,
        int totalSteps,
        int epoch,
        int microBatch,
        long tokens,
        boolean finished,
        @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, List<DataFingerprints.FilePrint>> dataFiles) {
    public static final String FILE = "paft_state.json";
    /** Where paft before 2026-12 kept this record (same fields); still read. */
    static final String LEGACY_FILE = "trainer_state.json";

    @JsonCreator
    public TrainState {}

    /** A state without data fingerprints. */
    public TrainState(int step, int totalSteps, int epoch, int microBatch, long tokens, boolean finished) {
        this(step, totalSteps, epoch, microBatch, tokens, finished, null);
    }

    public TrainState finish() {
        return new TrainState(step, totalSteps, epoch, microBatch, tokens, true, dataFiles);
    }

    /** This state carrying {@code files} as the run's data fingerprints. */
    public TrainState withDataFiles(Map<String, List<DataFingerprints.FilePrint>> files) {
        return new TrainState(step, totalSteps, epoch, microBatch, tokens, finished, files);
    }

    /** The state saved in {@code dir}, from {@link #FILE} or a legacy paft {@code trainer_state.json}; empty if none. */
    public static Optional<TrainState> read(Path dir) {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            Path legacy = dir.resolve(LEGACY_FILE);
            if (!Files.isRegularFile(legacy) || !Json.readObject(legacy).has("microBatch")) {
                return Optional.empty();
            }
            file = legacy;
        }
        try {
            return Optional.of(Json.MAPPER.readValue(file.toFile(), TrainState.class));
        } catch (IOException e) {
            throw PaftException.badInput(file + ": unreadable: " + e.getMessage(), e);
        }
    }

    /** True when {@code dir} holds a finished run's state. */
    public static boolean isFinished(Path dir) {
        try {
            return read(dir).map(TrainState::finished).orElse(false);
        } catch (PaftException e) {
            return false;
        }
    }

    /** True when {@code dir} holds a saved state (a checkpoint, or a finished run). */
    static boolean exists(Path dir) {
        if (Files.isRegularFile(dir.resolve(FILE))) {
            return true;
        }
        Path legacy = dir.resolve(LEGACY_FILE);
        if (!Files.isRegularFile(legacy)) {
            return false;
        }
        JsonNode n = Json.readObject(legacy);
        return n.has("microBatch");
    }
}
