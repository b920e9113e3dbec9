package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.data.Batch;
import dev.paft.engine.GradMode;
import dev.paft.errors.PaftException;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraModule;
import dev.paft.model.LabelScorer;
import dev.paft.model.LlamaModel;
import dev.paft.model.Precision;
import dev.paft.model.TrainingForward;
import dev.paft.train.loss.L1Penalty;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link LlamaModel} with one trainable {@link LoraAdapter}: what the recipes train, with activation
 * checkpointing on or off and the LM head scored in chunks of {@code lossChunk} tokens.
 */
public final class LoraPolicy implements PolicyModel {
    private final LlamaModel model;
    private final LoraAdapter adapter;
    private final boolean checkpoint;
    private final Precision precision;
    private final LabelScorer scorer;
    private long dropoutSeed;
    private final Map<String, NDArray> params = new LinkedHashMap<>();
    private final List<L1Penalty.LoraFactors> factors = new ArrayList<>();

    /** Checkpointing on, default loss chunk. */
    public LoraPolicy(LlamaModel model, LoraAdapter adapter) {
        this(model, adapter, true, LabelScorer.DEFAULT_CHUNK);
    }

    /**
     * @param checkpoint recompute each decoder layer during backward instead of keeping its activations
     * @param lossChunk tokens per chunk of the LM head and log-softmax
     */
    public LoraPolicy(LlamaModel model, LoraAdapter adapter, boolean checkpoint, int lossChunk) {
        this(model, adapter, checkpoint, lossChunk, Precision.FP32);
    }

    /** As above, the decoder computed in {@code precision} ({@code training.precision}). */
    public LoraPolicy(LlamaModel model, LoraAdapter adapter, boolean checkpoint, int lossChunk, Precision precision) {
        this.model = model;
        this.precision = precision;
        this.adapter = adapter;
        this.checkpoint = checkpoint;
        this.scorer = model.scorer(lossChunk);
        for (LoraModule m : adapter.modules().values()) {
            params.put(m.key() + ".lora_A", m.a());
            params.put(m.key() + ".lora_B", m.b());
            factors.add(new L1Penalty.LoraFactors(m.key(), m.a(), m.b(), adapter.scaling()));
        }
    }

    public LlamaModel model() {
        return model;
    }

    public LoraAdapter adapter() {
        return adapter;
    }

    @Override
    public TrainingForward forward(NDManager scope, Batch batch, boolean training) {
        Shape shape = new Shape(batch.rows(), batch.cols());
        NDArray ids = scope.create(batch.flatInputIds(), shape);
        NDArray mask = scope.create(batch.flatAttentionMask(), shape);
        return model.trainingForward(scope, ids, mask, adapter, training, dropoutSeed, checkpoint, precision);
    }

    @Override
    public LabelScorer scorer() {
        return scorer;
    }

    @Override
    public List<L1Penalty.LoraFactors> loraFactors() {
        return factors;
    }

    @Override
    public void setAdapterEnabled(boolean enabled) {
        adapter.setEnabled(enabled);
    }

    @Override
    public Map<String, NDArray> parameters() {
        return params;
    }

    @Override
    public void saveAdapter(Path dir, Map<String, String> metadata) {
        adapter.save(dir, metadata);
    }

    @Override
    public void loadAdapter(Path dir) {
        try (LoraAdapter saved = model.loadAdapter(dir)) {
            if (!saved.modules().keySet().equals(adapter.modules().keySet())) {
                throw PaftException.badInput(dir + ": checkpoint adapter modules differ from the configured adapter");
            }
            try (GradMode off = GradMode.off()) {
                for (LoraModule m : adapter.modules().values()) {
                    LoraModule s = saved.module(m.key());
                    copyInto(m.a(), s.a(), dir);
                    copyInto(m.b(), s.b(), dir);
                }
            }
        }
    }

    /** dst := src in place (dst keeps its identity and requiresGrad): dst - dst + src is exact for finite values. */
    private static void copyInto(NDArray dst, NDArray src, Path where) {
        if (!dst.getShape().equals(src.getShape())) {
            throw PaftException.badInput(
                    where + ": checkpoint tensor shape " + src.getShape() + " differs from " + dst.getShape());
        }
        dst.subi(dst).addi(src);
    }

    @Override
    public void seedDropout(long seed) {
        dropoutSeed = seed; // the model re-seeds before each decoder layer from (seed, layer)
    }
}
