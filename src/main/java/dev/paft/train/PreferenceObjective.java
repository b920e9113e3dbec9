package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.paft.data.Batch;
import dev.paft.data.Batches;
import dev.paft.data.PreferenceExample;
import dev.paft.train.loss.CrossEntropyLoss;
import dev.paft.train.loss.PreferenceBatch;
import dev.paft.train.loss.PreferenceLoss;
import dev.paft.train.loss.PreferenceResult;
import dev.paft.train.loss.SequenceLogProbs;
import dev.paft.train.loss.TokenLogProbs;
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
    private final boolean sequenceNll;
    private final int padId;
    private final Map<PreferenceExample, float[]> refCache = new IdentityHashMap<>();

    public PreferenceObjective(PolicyModel model, PreferenceLoss loss, boolean sequenceNll, int padId) {
        this.model = model;
        this.loss = loss;
        this.sequenceNll = sequenceNll;
        this.padId = padId;
    }

    @Override
    public Output forward(NDManager scope, List<PreferenceExample> pairs, boolean training) {
        int k = pairs.size();
        Batch batch = Batches.preference(pairs, padId);
        NDArray labels = scope.create(batch.flatLabels(), new Shape(batch.rows(), batch.cols()));
        NDArray logits = model.logits(scope, batch, training);                     // [2k, T, V]
        TokenLogProbs.Aligned a = TokenLogProbs.align(logits, labels);
        SequenceLogProbs all = TokenLogProbs.sequences(a.logits(), a.labels());   // sums over completion tokens, [2k]
        SequenceLogProbs chosen = rows(all, 0, k);
        SequenceLogProbs rejected = rows(all, k, 2 * k);

        PreferenceBatch pb;
        if (loss.needsReference()) {
            NDArray[] ref = reference(scope, pairs, batch, labels);
            pb = new PreferenceBatch(chosen.sum(), rejected.sum(), ref[0], ref[1], chosen.count(), rejected.count(), null);
        } else {
            NDArray nll = sequenceNll ? sequenceNll(scope, batch, a.logits(), k) : chosenNll(a, k);
            pb = PreferenceBatch.withNll(chosen, rejected, nll);
        }
        logits.close();   // consumed by every use above: freed before backward (as in SftObjective)
        PreferenceResult r = loss.compute(pb);
        long tokens = 0;
        for (int len : batch.lengths()) {
            tokens += len;
        }
        return new Output(r.loss(), new LinkedHashMap<>(r.metrics()), tokens);
    }

    private static SequenceLogProbs rows(SequenceLogProbs s, int from, int to) {
        NDIndex idx = new NDIndex(from + ":" + to);
        return new SequenceLogProbs(s.sum().get(idx), s.count().get(idx), s.mean().get(idx));
    }

    /** Mean NLL over the chosen completion tokens of the batch. */
    private static NDArray chosenNll(TokenLogProbs.Aligned a, int k) {
        NDIndex chosenRows = new NDIndex(0 + ":" + k);
        return CrossEntropyLoss.crossEntropy(a.logits().get(chosenRows), a.labels().get(chosenRows));
    }

    /** TRL's ORPO NLL: every non-padding token of the chosen sequences (prompt included). */
    private static NDArray sequenceNll(NDManager scope, Batch batch, NDArray alignedLogits, int k) {
        long[] ids = batch.flatInputIds();
        long[] mask = batch.flatAttentionMask();
        long[] seqLabels = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            seqLabels[i] = mask[i] == 1 ? ids[i] : TokenLogProbs.IGNORE_INDEX;
        }
        NDArray all = scope.create(seqLabels, new Shape(batch.rows(), batch.cols()));
        NDArray shifted = TokenLogProbs.align(alignedLogits, all).labels();
        NDIndex chosenRows = new NDIndex(0 + ":" + k);
        return CrossEntropyLoss.crossEntropy(alignedLogits.get(chosenRows), shifted.get(chosenRows));
    }

    /** Reference sums [k] for chosen and rejected: cached, or the base model under no-grad. */
    private NDArray[] reference(NDManager scope, List<PreferenceExample> pairs, Batch batch, NDArray labels) {
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

    private float[] referenceSums(NDManager scope, Batch batch, NDArray labels) {
        boolean prev = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        model.setAdapterEnabled(false);
        try (NDManager ref = scope.newSubManager()) {
            NDArray logits = model.logits(ref, batch, false);
            TokenLogProbs.Aligned a = TokenLogProbs.align(logits, labels);
            return TokenLogProbs.sequences(a.logits(), a.labels()).sum().toFloatArray();
        } finally {
            model.setAdapterEnabled(true);
            JniUtils.setGradMode(prev);
        }
    }

    /** Computes the reference log-probs of every pair once (so later steps skip the reference forward). */
    public void precomputeReference(NDManager root, List<PreferenceExample> pairs, int batchSize) {
        for (List<PreferenceExample> chunk : Batches.chunks(pairs, batchSize, false)) {
            try (NDManager scope = root.newSubManager()) {
                Batch batch = Batches.preference(chunk, padId);
                NDArray labels = scope.create(batch.flatLabels(), new Shape(batch.rows(), batch.cols()));
                float[] sums = referenceSums(scope, batch, labels);
                for (int i = 0; i < chunk.size(); i++) {
                    refCache.put(chunk.get(i), new float[] {sums[i], sums[chunk.size() + i]});
                }
            }
        }
    }
}
