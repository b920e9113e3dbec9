package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.paft.config.OrpoNll;
import dev.paft.data.Batch;
import dev.paft.data.Batches;
import dev.paft.data.PreferenceExample;
import dev.paft.engine.GradMode;
import dev.paft.model.LabelScorer;
import dev.paft.model.TrainingForward;
import dev.paft.train.loss.CrossEntropyLoss;
import dev.paft.train.loss.PreferenceBatch;
import dev.paft.train.loss.PreferenceLoss;
import dev.paft.train.loss.PreferenceResult;
import dev.paft.train.loss.SequenceLogProbs;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Preference objective: chosen and rejected completions go through the policy in one batch
 * (rows 0..k-1 chosen, k..2k-1 rejected); their summed completion log-probs feed a
 * {@link PreferenceLoss}. DPO-family losses take reference log-probs from the same model with the
 * adapter disabled, under no-grad (no second copy of the weights), either per batch or
 * precomputed once ({@link #precomputeReference}). ORPO takes the chosen completion's NLL
 * ({@code completion}) or, as TRL, the NLL of the whole chosen sequence ({@code sequence}).
 */
public final class PreferenceObjective implements Objective<PreferenceExample> {
    private final PolicyModel model;
    private final PreferenceLoss loss;
    private final OrpoNll orpoNll;
    private final int padId;
    private final Map<PreferenceExample, float[]> refCache = new IdentityHashMap<>();

    /** {@code orpoNll}: which NLL ORPO adds (unused by the DPO family). */
    public PreferenceObjective(PolicyModel model, PreferenceLoss loss, OrpoNll orpoNll, int padId) {
        this.model = model;
        this.loss = loss;
        this.orpoNll = orpoNll;
        this.padId = padId;
    }

    @Override
    public Output forward(NDManager scope, List<PreferenceExample> pairs, boolean training) {
        int k = pairs.size();
        Batch batch = Batches.preference(pairs, padId);
        long[] completion = LabelScorer.align(batch.flatLabels(), batch.rows(), batch.cols());
        boolean orpoSequence = !loss.needsReference() && orpoNll == OrpoNll.SEQUENCE;
        long[][] sets = orpoSequence ? new long[][] {completion, sequenceLabels(batch)} : new long[][] {completion};
        TrainingForward fwd = model.forward(scope, batch, training); // hidden [2k, T, H]
        ScoredRows rows =
                new ScoredRows(scope, fwd, model.scorer().score(scope, fwd.hidden(), sets), true, orpoSequence);
        SequenceLogProbs chosen = rows(rows.sums(0), rows.counts(0), 0, k); // sums over completion tokens
        SequenceLogProbs rejected = rows(rows.sums(0), rows.counts(0), k, 2 * k);

        PreferenceBatch pb;
        if (loss.needsReference()) {
            NDArray[] ref = reference(scope, pairs, batch, completion);
            pb = new PreferenceBatch(
                    chosen.sum(), rejected.sum(), ref[0], ref[1], chosen.count(), rejected.count(), null);
        } else {
            NDArray nll = orpoSequence ? chosenNll(rows, 1, k) : chosenNll(rows, 0, k);
            pb = PreferenceBatch.withNll(chosen, rejected, nll);
        }
        PreferenceResult r = loss.compute(pb);
        long tokens = 0;
        for (int len : batch.lengths()) {
            tokens += len;
        }
        Map<String, NDArray> metrics = new LinkedHashMap<>(r.metrics());
        metrics.put("logits/chosen", scope.create((float) rows.meanLogit(0, 0, k))); // TRL's mean logits
        metrics.put("logits/rejected", scope.create((float) rows.meanLogit(0, k, 2 * k)));
        return new Output(r.loss(), metrics, tokens, rows.backward());
    }

    private static SequenceLogProbs rows(NDArray sums, NDArray counts, int from, int to) {
        NDIndex idx = new NDIndex(from + ":" + to);
        NDArray sum = sums.get(idx);
        NDArray count = counts.get(idx);
        return new SequenceLogProbs(sum, count, sum.div(count.maximum(1))); // count carries no gradient
    }

    /** Mean NLL over the labelled tokens of label set {@code set} in the chosen rows 0..k-1. */
    private static NDArray chosenNll(ScoredRows rows, int set, int k) {
        return CrossEntropyLoss.fromSums(rows.sums(set).get(new NDIndex(0 + ":" + k)), rows.total(set, 0, k));
    }

    /** TRL's ORPO NLL labels: every non-padding token of each row (prompt included), aligned. */
    private static long[] sequenceLabels(Batch batch) {
        long[] ids = batch.flatInputIds();
        long[] mask = batch.flatAttentionMask();
        long[] seqLabels = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            seqLabels[i] = mask[i] == 1 ? ids[i] : LabelScorer.IGNORE;
        }
        return LabelScorer.align(seqLabels, batch.rows(), batch.cols());
    }

    /** Reference sums [k] for chosen and rejected: cached, or the base model under no-grad. */
    private NDArray[] reference(NDManager scope, List<PreferenceExample> pairs, Batch batch, long[] labels) {
        int k = pairs.size();
        float[] c = new float[k];
        float[] r = new float[k];
        boolean cached = true;
        for (int i = 0; i < k && cached; i++) {
            float[] v = refCache.get(pairs.get(i));
            if (v == null) {
                cached = false;
            } else {
                c[i] = v[0];
                r[i] = v[1];
            }
        }
        if (!cached) {
            float[] sums = referenceSums(scope, batch, labels);
            for (int i = 0; i < k; i++) {
                c[i] = sums[i];
                r[i] = sums[k + i];
            }
        }
        return new NDArray[] {scope.create(c), scope.create(r)};
    }

    /** Per-row completion log-prob sums of the base model (adapter off), under no-grad. */
    private float[] referenceSums(NDManager scope, Batch batch, long[] labels) {
        model.setAdapterEnabled(false);
        try (GradMode off = GradMode.off();
                NDManager ref = scope.newSubManager()) {
            TrainingForward fwd = model.forward(ref, batch, false);
            double[] sums = model.scorer().score(ref, fwd.hidden(), labels).sums(0);
            float[] out = new float[sums.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) sums[i];
            }
            return out;
        } finally {
            model.setAdapterEnabled(true);
        }
    }

    /** Computes the reference log-probs of every pair once (so later steps skip the reference forward). */
    public void precomputeReference(NDManager root, List<PreferenceExample> pairs, int batchSize) {
        for (List<PreferenceExample> chunk : Batches.chunks(pairs, batchSize, false)) {
            try (NDManager scope = root.newSubManager()) {
                Batch batch = Batches.preference(chunk, padId);
                float[] sums =
                        referenceSums(scope, batch, LabelScorer.align(batch.flatLabels(), batch.rows(), batch.cols()));
                for (int i = 0; i < chunk.size(); i++) {
                    refCache.put(chunk.get(i), new float[] {sums[i], sums[chunk.size() + i]});
                }
            }
        }
    }
}
