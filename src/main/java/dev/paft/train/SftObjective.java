package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.paft.config.L1Target;
import dev.paft.data.Batch;
import dev.paft.data.Batches;
import dev.paft.data.SftExample;
import dev.paft.model.LabelScorer;
import dev.paft.model.TrainingForward;
import dev.paft.train.loss.CrossEntropyLoss;
import dev.paft.train.loss.L1Penalty;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PAFT's sparse SFT objective (eq. 1): {@code loss = CE + l1_lambda * L1}, with CE the mean
 * next-token cross-entropy over labelled (completion / assistant) tokens and L1 the adapter's
 * norm ({@code factors}: sum |A| + |B|; {@code delta}: sum || scaling B A ||_1).
 * Logged: {@code ce}, {@code l1} (the norm, before lambda), {@code mean_token_accuracy} (TRL: labelled tokens
 * whose label is the logits' argmax).
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
        TrainingForward fwd = model.forward(scope, batch, training); // hidden [B, T, H]
        long[] labels = LabelScorer.align(batch.flatLabels(), batch.rows(), batch.cols()); // h[:, t] scores token t+1
        ScoredRows rows = new ScoredRows(scope, fwd, model.scorer().score(scope, fwd.hidden(), labels), true);
        NDArray ce = CrossEntropyLoss.fromSums(rows.sums(0), rows.total(0));
        Map<String, NDArray> metrics = new LinkedHashMap<>();
        metrics.put("ce", ce);
        metrics.put("mean_token_accuracy", scope.create((float) rows.accuracy(0, 0, batch.rows())));
        NDArray loss = ce;
        if (l1.lambda() > 0 || !training) {
            NDArray norm = l1.target() == L1Target.FACTORS
                    ? L1Penalty.factorsNorm(model.loraFactors(), scope)
                    : L1Penalty.deltaNorm(model.loraFactors(), scope);
            metrics.put("l1", norm);
            if (l1.lambda() > 0) {
                loss = ce.add(l1.scale(norm)); // the logged norm, computed once
            }
        }
        long tokens = 0;
        for (int len : batch.lengths()) {
            tokens += len;
        }
        return new Output(loss, metrics, tokens, rows.backward());
    }

    /**
     * The labelled tokens this micro-batch scores: gradient accumulation weighs micro-batches by it, so an
     * optimizer step's loss is the cross-entropy summed over all its labelled tokens divided by their number
     * (transformers' {@code num_items_in_batch}), whatever the split into micro-batches.
     */
    @Override
    public double weight(List<SftExample> examples) {
        long n = 0;
        for (SftExample e : examples) {
            int[] labels = e.labels();
            for (int t = 1; t < labels.length; t++) { // the label of token 0 is never predicted
                if (labels[t] != SftExample.IGNORE) {
                    n++;
                }
            }
        }
        return n;
    }
}
