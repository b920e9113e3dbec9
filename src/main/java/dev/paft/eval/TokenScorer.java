package dev.paft.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.data.Batch;
import dev.paft.data.Batches;
import dev.paft.errors.PaftException;
import dev.paft.lora.LoraAdapter;
import dev.paft.model.LlamaModel;
import dev.paft.model.Scoring;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.Supplier;

/**
 * Batched, no-grad scoring of labelled token sequences: per row the sum of
 * {@code log p(label_t | ids_<t)} over labelled positions and their count ({@link Scoring}'s
 * semantics: label {@code -100} counts for nothing).
 *
 * <p>Rows are sorted by length (longest first, as lm-eval-harness does) so padding is small, scored in
 * batches of {@code batchSize} right-padded rows, each batch in its own NDManager scope, and returned
 * in input order. Padding does not change a row's score (the padding mask hides pad keys). A batch holds
 * fewer rows when its logits would exceed {@link #LOGITS_BUDGET}, so a generous batch size is safe for
 * large vocabularies and long sequences.
 */
public final class TokenScorer {
    /** Most logits one batch may hold (2^28 floats, 1 GiB): long rows of a large vocabulary get smaller batches. */
    public static final long LOGITS_BUDGET = 1L << 28;

    private TokenScorer() {}

    /** One sequence to score: input ids and aligned labels ({@code -100} = not scored). */
    public record Row(int[] ids, int[] labels) {
        public Row {
            if (ids.length != labels.length) {
                throw new IllegalArgumentException(
                        "ids and labels differ in length: " + ids.length + " vs " + labels.length);
            }
        }
    }

    /** Summed log-prob and number of scored tokens of one row. */
    public record Score(double sum, int tokens) {
        /** Mean log-prob per scored token (0 when none). */
        public double mean() {
            return tokens == 0 ? 0 : sum / tokens;
        }
    }

    /**
     * Scores rows with {@code model} and {@code adapter} (null or disabled: the base).
     *
     * @param padId any valid token id (pads are masked)
     */
    public static List<Score> score(LlamaModel model, LoraAdapter adapter, List<Row> rows, int batchSize, int padId) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        Integer[] order = new Integer[rows.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(
                order,
                Comparator.comparingInt((Integer i) -> rows.get(i).ids().length).reversed());
        Score[] out = new Score[rows.size()];
        long vocab = model.config().vocabSize();
        for (int from = 0, to; from < order.length; from = to) {
            // up to batchSize rows, fewer when their logits [rows, cols, vocab] would exceed the budget
            long cols = Math.max(1, rows.get(order[from]).ids().length);
            to = from + 1;
            while (to < order.length && to - from < batchSize && (to - from + 1) * cols * vocab <= LOGITS_BUDGET) {
                to++;
            }
            int[][] ids = new int[to - from][];
            int[][] labels = new int[to - from][];
            for (int j = from; j < to; j++) {
                ids[j - from] = rows.get(order[j]).ids();
                labels[j - from] = rows.get(order[j]).labels();
            }
            Scoring.Scores s = scoreBatch(model, adapter, Batches.pad(ids, labels, padId));
            for (int j = from; j < to; j++) {
                out[order[j]] = new Score(s.sum()[j - from], s.count()[j - from]);
                if (!Double.isFinite(out[order[j]].sum())) {
                    throw nonFinite(out[order[j]].sum(), order[j], rows.size());
                }
            }
        }
        return new ArrayList<>(Arrays.asList(out));
    }

    /**
     * A score that is NaN or Inf: a numeric failure (exit 4) naming the sequence. Weights are checked when
     * loaded, so what is left is the forward pass itself overflowing.
     */
    static PaftException nonFinite(double sum, int row, int rows) {
        return PaftException.numeric("log-likelihood of scored sequence " + (row + 1) + " of " + rows + " is " + sum
                + ": the model's forward pass is not finite (its weights are; activations overflow)");
    }

    /** {@code score.get()}, with {@code file} named in a numeric failure's message. */
    static <T> T naming(Path file, Supplier<T> score) {
        try {
            return score.get();
        } catch (PaftException e) {
            if (e.exitCode() != PaftException.NUMERIC) {
                throw e;
            }
            throw new PaftException(PaftException.NUMERIC, file + ": " + e.getMessage(), e);
        }
    }

    /** One padded batch through {@link Scoring#score} in a scope of its own. */
    static Scoring.Scores scoreBatch(LlamaModel model, LoraAdapter adapter, Batch batch) {
        try (NDManager scope = model.manager().newSubManager()) {
            NDArray ids = int64(scope, batch.inputIds());
            NDArray mask = int64(scope, batch.attentionMask());
            NDArray labels = int64(scope, batch.labels());
            return Scoring.score(model, scope, ids, mask, labels, adapter);
        }
    }

    /** A [rows, cols] int64 array of a rectangular int matrix. */
    static NDArray int64(NDManager scope, int[][] m) {
        int cols = m.length == 0 ? 0 : m[0].length;
        long[] flat = new long[m.length * cols];
        for (int i = 0; i < m.length; i++) {
            for (int j = 0; j < cols; j++) {
                flat[i * cols + j] = m[i][j];
            }
        }
        return scope.create(flat, new Shape(m.length, cols));
    }
}
