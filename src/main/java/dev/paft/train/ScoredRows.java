package dev.paft.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.model.LabelScorer;
import dev.paft.model.TrainingForward;

/**
 * Per-row label log-prob sums of one micro-batch as the loss sees them: float32 [rows] tensors that are
 * autograd leaves when training. The loss is built on the leaves; after its backward, {@link #backward()}
 * reads their gradients ({@code dL/d sum_row}), turns them into {@code dL/dh} through the chunked LM head
 * ({@link LabelScorer.Scored#gradient}) and back-propagates that through the decoder stack
 * ({@link TrainingForward#backward}). So the autograd graph of a step is only the loss over [rows] sums.
 */
final class ScoredRows {
    private final TrainingForward forward;
    private final LabelScorer.Scored scored;
    private final NDArray[] sums;
    private final NDArray[] counts;
    private final boolean[] inLoss;

    /**
     * @param inLoss which label sets the loss uses (their sums become leaves when training)
     */
    ScoredRows(NDManager scope, TrainingForward forward, LabelScorer.Scored scored, boolean... inLoss) {
        this.forward = forward;
        this.scored = scored;
        this.inLoss = inLoss;
        int sets = scored.sets();
        this.sums = new NDArray[sets];
        this.counts = new NDArray[sets];
        for (int s = 0; s < sets; s++) {
            double[] sum = scored.sums(s);
            int[] count = scored.counts(s);
            float[] fs = new float[sum.length];
            float[] fc = new float[count.length];
            for (int i = 0; i < fs.length; i++) {
                fs[i] = (float) sum[i];
                fc[i] = count[i];
            }
            sums[s] = scope.create(fs, new Shape(fs.length));
            counts[s] = scope.create(fc, new Shape(fc.length));
            if (forward.hasBackward() && s < inLoss.length && inLoss[s]) {
                sums[s].setRequiresGradient(true);
            }
        }
    }

    /** Sums [rows] of label set {@code set} (a leaf requiring gradient when training and in the loss). */
    NDArray sums(int set) {
        return sums[set];
    }

    /** Labelled positions per row [rows] of label set {@code set}, float32, no gradient. */
    NDArray counts(int set) {
        return counts[set];
    }

    /** Total labelled positions of label set {@code set}. */
    long total(int set) {
        return total(set, 0, scored.counts(set).length);
    }

    /** Labelled positions of label set {@code set} in rows [from, to). */
    long total(int set, int from, int to) {
        long n = 0;
        for (int r = from; r < to; r++) {
            n += scored.counts(set)[r];
        }
        return n;
    }

    /** Fraction of the labelled positions of rows [from, to) whose label is the logits' argmax (TRL's mean_token_accuracy). */
    double accuracy(int set, int from, int to) {
        long ok = 0;
        long n = 0;
        for (int r = from; r < to; r++) {
            ok += scored.correct(set)[r];
            n += scored.counts(set)[r];
        }
        return n == 0 ? 0 : (double) ok / n;
    }

    /** Mean logit over the vocabulary and the labelled positions of rows [from, to) (TRL's logits/chosen). */
    double meanLogit(int set, int from, int to) {
        double sum = 0;
        long n = 0;
        for (int r = from; r < to; r++) {
            sum += scored.logitSums(set)[r];
            n += scored.counts(set)[r];
        }
        return n == 0 ? 0 : sum / (n * (double) scored.vocab());
    }

    /** The rest of the backward after the loss's (null when this micro-batch is not trained on). */
    Runnable backward() {
        if (!forward.hasBackward()) {
            return null;
        }
        return () -> {
            float[][] w = new float[sums.length][];
            for (int s = 0; s < sums.length; s++) {
                if (s < inLoss.length && inLoss[s]) {
                    try (NDArray g = sums[s].getGradient()) {
                        w[s] = g.toFloatArray();
                    }
                }
            }
            forward.backward(scored.gradient(w));
        };
    }
}
