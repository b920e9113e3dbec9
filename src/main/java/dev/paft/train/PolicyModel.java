package dev.paft.train;

import ai.djl.ndarray.NDManager;
import dev.paft.data.Batch;
import dev.paft.model.LabelScorer;
import dev.paft.model.TrainingForward;
import dev.paft.train.loss.L1Penalty;
import java.util.List;

/** A causal LM with a LoRA adapter, as the objectives see it. */
public interface PolicyModel extends TrainableModel {
    /**
     * The final hidden states of a padded batch on {@code scope}; when {@code training} under grad mode, with the
     * way back through the decoder stack (dropout on, activation checkpointing as configured).
     */
    TrainingForward forward(NDManager scope, Batch batch, boolean training);

    /** The chunked label scorer of the LM head. */
    LabelScorer scorer();

    /** The adapter's factors per module, for the L1 penalty. */
    List<L1Penalty.LoraFactors> loraFactors();

    /** Turns the adapter off (the base model: DPO's reference) or back on. */
    void setAdapterEnabled(boolean enabled);
}
