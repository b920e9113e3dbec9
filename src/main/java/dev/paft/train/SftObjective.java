package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.data.Batch;
import dev.paft.data.Batches;
import dev.paft.data.SftExample;
import dev.paft.train.loss.CrossEntropyLoss;
import dev.paft.train.loss.L1Penalty;
import dev.paft.train.loss.TokenLogProbs;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PAFT's sparse SFT objective (eq. 1): {@code loss = CE + l1_lambda * L1}, with CE the mean
 * next-token cross-entropy over labelled (completion / assistant) tokens and L1 the adapter's
 * norm ({@code factors}: sum |A| + |B|; {@code delta}: sum || scaling B A ||_1).
 * Logged: {@code ce}, {@code l1} (the norm, before lambda).
 */
public final class SftObjective implements Objective<SftExample> {
    private final PolicyModel model;
    private final L1Penalty l1;
    private final int padId;

    public SftObjective(PolicyModel model, L1Penalty l1, int padId) {
        this.model = model;
        this.l1 = l1;
        this.padId = padId;
    }

    @Override
    public Output forward(NDManager scope, List<SftExample> examples, boolean training) {
        Batch batch = Batches.sft(examples, padId);
        NDArray logits = model.logits(scope, batch, training);                     // [B, T, V]
        NDArray labels = scope.create(batch.flatLabels(), new Shape(batch.rows(), batch.cols()));
        TokenLogProbs.Aligned a = TokenLogProbs.align(logits, labels);              // logits[:, t] predicts labels[:, t+1]
        NDArray ce = CrossEntropyLoss.crossEntropy(a.logits(), a.labels());
        // The [B, T, vocab] logits are consumed: freed now rather than when the step scope closes after backward
        // (autograd saved the log-softmax, not the logits; closing a consumed handle leaves gradients unchanged,
        // EagerCloseTest), as PyTorch frees them when they go out of scope.
        logits.close();
        Map<String, NDArray> metrics = new LinkedHashMap<>();
        metrics.put("ce", ce);
        NDArray loss = ce;
        if (l1.lambda() > 0 || !training) {
            NDArray norm = l1.target() == L1Penalty.Target.FACTORS
                    ? L1Penalty.factorsNorm(model.loraFactors(), scope)
                    : L1Penalty.deltaNorm(model.loraFactors(), scope);
            metrics.put("l1", norm);
            if (l1.lambda() > 0) {
                loss = ce.add(l1.scale(norm));                                  // the logged norm, computed once
            }
        }
        long tokens = 0;
        for (int len : batch.lengths()) {
            tokens += len;
        }
        return new Output(loss, metrics, tokens);
    }
}
