package dev.paft.train;

import ai.djl.ndarray.NDArray;
import java.nio.file.Path;
import java.util.Map;

/** What the training loop updates: the named LoRA parameters of a model, saved as a PEFT adapter. */
public interface TrainableModel {
    /** Trainable parameters by PEFT key, each with {@code requiresGradient}; stable order. */
    Map<String, NDArray> parameters();

    /** Writes the current adapter as a PEFT directory (adapter_config.json + adapter_model.safetensors). */
    void saveAdapter(Path dir, Map<String, String> metadata);

    /** Overwrites the parameters with the adapter saved in {@code dir} (resume). */
    void loadAdapter(Path dir);

    /** Re-seeds the dropout random stream (the loop calls it per micro-batch for exact resume). */
    void seedDropout(long seed);
}
