package dev.paft.train;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.TrainingConfig;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code trainer_state.json} in transformers' schema ({@code TrainerState.save_to_json}: every field of the
 * dataclass, keys sorted, 2-space indent), so tools that read Hugging Face runs read paft's: {@code global_step},
 * {@code epoch}, {@code max_steps}, {@code num_train_epochs}, {@code logging_steps}/{@code eval_steps}/
 * {@code save_steps}, {@code train_batch_size}, {@code num_input_tokens_seen}, {@code log_history} (one entry per
 * logged step and per evaluation, plus the final train summary) and the best-model fields (null: paft keeps no
 * best checkpoint). {@code TrainerState.load_from_json} builds the dataclass from exactly these keys, so paft's
 * own resume position lives in a separate file ({@link TrainState#FILE}).
 */
final class HfTrainerState {
    static final String FILE = "trainer_state.json";
    private static final ObjectMapper JSON = Mappers.jsonSortedKeys();
    /** Python's {@code json.dumps(indent=2)} layout: "key": value, one array element per line. */
    private static final DefaultPrettyPrinter PRETTY = new DefaultPrettyPrinter()
            .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
            .withArrayIndenter(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);

    private final TrainingConfig cfg;
    private final int examplesPerEpoch;
    private final List<Map<String, Object>> history = new ArrayList<>();

    HfTrainerState(TrainingConfig cfg, int examplesPerEpoch) {
        this.cfg = cfg;
        this.examplesPerEpoch = examplesPerEpoch;
    }

    /** Seeds the history with the records of a resumed run's metrics.jsonl. */
    void addAll(List<JsonNode> records) {
        for (JsonNode n : records) {
            history.add(JSON.convertValue(n, LinkedHashMap.class));
        }
    }

    /** Adds one logged record (a training window or an evaluation). */
    void add(Map<String, Object> record) {
        history.add(new LinkedHashMap<>(record));
    }

    /**
     * The final entry transformers appends: {@code train_runtime}, {@code train_samples_per_second},
     * {@code train_steps_per_second}, {@code train_loss} (mean of the logged training losses), {@code total_flos}.
     */
    void addSummary(TrainState state, double epoch, double runtimeSeconds, long samples) {
        double lossSum = 0;
        int n = 0;
        for (Map<String, Object> h : history) {
            if (h.get("loss") instanceof Number l) {
                lossSum += l.doubleValue();
                n++;
            }
        }
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("epoch", epoch);
        s.put("step", state.step());
        s.put("total_flos", 0.0);
        s.put("train_loss", n == 0 ? 0.0 : lossSum / n);
        s.put("train_runtime", runtimeSeconds);
        s.put("train_samples_per_second", runtimeSeconds > 0 ? samples / runtimeSeconds : 0.0);
        s.put("train_steps_per_second", runtimeSeconds > 0 ? state.step() / runtimeSeconds : 0.0);
        history.add(s);
    }

    /** Writes the state at {@code state} (history so far) to {@code dir/trainer_state.json}. */
    void write(Path dir, TrainState state, double epoch) {
        Map<String, Object> m = new TreeMap<>();
        m.put("best_global_step", null);
        m.put("best_metric", null);
        m.put("best_model_checkpoint", null);
        m.put("epoch", epoch);
        m.put("eval_steps", cfg.evalSteps());
        m.put("global_step", state.step());
        m.put("is_hyper_param_search", false);
        m.put("is_local_process_zero", true);
        m.put("is_world_process_zero", true);
        m.put("log_history", history);
        m.put("logging_steps", cfg.logSteps());
        m.put("max_steps", state.totalSteps());
        m.put("num_input_tokens_seen", state.tokens());
        m.put("num_train_epochs", numTrainEpochs(state.totalSteps()));
        m.put("save_steps", cfg.saveSteps());
        m.put("stateful_callbacks", Map.of());
        m.put("total_flos", 0.0);
        m.put("train_batch_size", cfg.batchSize());
        m.put("trial_name", null);
        m.put("trial_params", null);
        try {
            AtomicFiles.writeString(dir.resolve(FILE), JSON.writer(PRETTY).writeValueAsString(m) + "\n");
        } catch (IOException e) {
            throw PaftException.io("write", dir.resolve(FILE), e);
        }
    }

    /** transformers' num_train_epochs: ceil(max_steps / steps per epoch), or the configured epochs. */
    private int numTrainEpochs(int totalSteps) {
        int perEpoch = (TrainingLoop.microBatchesPerEpoch(examplesPerEpoch, cfg.batchSize()) + cfg.gradAccum() - 1)
                / cfg.gradAccum();
        return (int) Math.ceil(cfg.maxSteps() > 0 ? totalSteps / (double) Math.max(1, perEpoch) : cfg.epochs());
    }

    /** Reads a trainer_state.json (for tests and tools). */
    static ObjectNode read(Path file) {
        try {
            return (ObjectNode) JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw PaftException.badInput(file + ": " + e.getMessage(), e);
        }
    }
}
