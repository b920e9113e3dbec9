package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.paft.data.Batch;
import dev.paft.train.loss.L1Penalty;
import java.util.List;

/** A causal LM with a LoRA adapter, as the objectives see it. */
public interface PolicyModel extends TrainableModel {
    /** Logits [rows, cols, vocab] of a padded batch, computed on {@code scope}; dropout when training. */
    NDArray logits(NDManager scope, Batch batch, boolean training);

    /** The adapter's factors per module, for the L1 penalty. */
    List<L1Penalty.LoraFactors> loraFactors();

    /** Turns the adapter off (the base model: DPO's reference) or back on. */
    void setAdapterEnabled(boolean enabled);
}
