package dev.paft.train;

import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/**
 * What a training run writes besides the adapter, in the layouts users' tools read: each logged record goes to
 * {@code metrics.jsonl}, TensorBoard ({@link TensorBoardLog}) and transformers' {@code log_history}; each
 * checkpoint and the final output get {@code trainer_state.json} ({@link HfTrainerState}) and the tokenizer files,
 * so a checkpoint loads like a Hugging Face one (PEFT adapter + tokenizer).
 */
final class RunFiles {
    /** Tokenizer files transformers saves with a model, copied when present. */
    static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "chat_template.jinja",
            "tokenizer.model",
            "added_tokens.json");

    private final MetricsLog metrics;
    private final TensorBoardLog tensorBoard;
    private final HfTrainerState hfState;
    private final Path tokenizerDir;

    RunFiles(MetricsLog metrics, TensorBoardLog tensorBoard, HfTrainerState hfState, Path tokenizerDir) {
        this.metrics = metrics;
        this.tensorBoard = tensorBoard;
        this.hfState = hfState;
        this.tokenizerDir = tokenizerDir;
    }

    /** Logs one record at {@code step} everywhere. */
    void log(int step, Map<String, Object> record) {
        metrics.write(record);
        tensorBoard.write(step, record);
        hfState.add(record);
    }

    /** trainer_state.json and the tokenizer files into {@code dir}. */
    void writeRunFiles(Path dir, TrainState state, double epoch) {
        hfState.write(dir, state, epoch);
        if (tokenizerDir == null
                || tokenizerDir
                        .toAbsolutePath()
                        .normalize()
                        .equals(dir.toAbsolutePath().normalize())) {
            return;
        }
        for (String name : TOKENIZER_FILES) {
            Path src = tokenizerDir.resolve(name);
            if (Files.isRegularFile(src)) {
                try {
                    Files.copy(src, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException e) {
                    throw PaftException.io("copy " + src + " to", dir, e);
                }
            }
        }
    }
}
