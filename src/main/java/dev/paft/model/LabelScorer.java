package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import dev.paft.engine.GradMode;
import dev.paft.lora.LoraLinear;
import java.util.ArrayList;
import java.util.List;

/**
 * Log-probabilities of label tokens computed from final hidden states in token chunks: the one
 * label-scoring implementation of paft (SFT cross-entropy, DPO/ORPO sequence log-probs, the DPO
 * reference, evaluation).
 *
 * <p>For a hidden state h (after the final RMSNorm) and the LM head W [V, H]:
 * {@code lp = log_softmax(h W^T)[label]}. The [rows, T, V] logits are never built: at most
 * {@code chunk} positions are scored at a time, and positions with no label in any label set
 * (prompts, padding) are skipped. Per row, the sum of the labelled log-probs and their count
 * are returned (sums in float64 on the host).
 *
 * <p>Training needs the gradient with respect to h without keeping the chunks' softmax for
 * autograd: {@link Scored#gradient} takes {@code dL/d sum_row} for every row and set and returns
 * {@code dL/dh} [rows, T, H], recomputing each chunk's softmax (the one chunk is kept instead when
 * a batch fits in one). For one position scored with weight w:
 * {@code dL/dh = w (W[label] - softmax(h W^T) W)}, the gradient of {@code w * log_softmax(h W^T)[label]}.
 *
 * <p><b>Alignment.</b> Labels are given aligned with the hidden positions: position t scores
 * {@code aligned[t]}. A causal LM's labels (aligned with its input ids, as in a
 * {@link dev.paft.data.Batch}) are aligned with {@link #align}: position t scores the label of
 * token t+1, as Hugging Face's causal-LM loss does; the last position scores nothing.
 */
public final class LabelScorer {
    /** Label of a position that is not scored (PyTorch's {@code ignore_index}). */
    public static final long IGNORE = -100;
    /** Default tokens per chunk (evaluation and the DPO reference when no training config applies). */
    public static final int DEFAULT_CHUNK = 1024;

    private final NDArray head;
    private final int chunk;

    /**
     * @param head the LM head [V, H] (float32 or float16 storage; widened once per batch)
     * @param chunk positions per chunk, at least 1
     */
    public LabelScorer(NDArray head, int chunk) {
        if (chunk < 1) {
            throw new IllegalArgumentException("chunk must be >= 1, got " + chunk);
        }
        this.head = head;
        this.chunk = chunk;
    }

    /**
     * Labels aligned with input ids ([rows * cols], row-major; -100 = not scored) moved so that
     * position t holds the label of token t+1, and the last position of each row holds -100.
     */
    public static long[] align(long[] labels, int rows, int cols) {
        long[] out = new long[labels.length];
        for (int r = 0; r < rows; r++) {
            int o = r * cols;
            System.arraycopy(labels, o + 1, out, o, cols - 1);
            out[o + cols - 1] = IGNORE;
        }
        return out;
    }

    /**
     * Scores every label set of one batch.
     *
     * @param hidden [rows, T, H] float32 final hidden states (no gradient is taken through them)
     * @param aligned label sets, each [rows * T] aligned (see {@link #align}); -100 = not scored
     * @return sums and counts per set and row, per-token log-probs, and the gradient for training
     */
    public Scored score(NDManager scope, NDArray hidden, long[]... aligned) {
        return GradMode.noGrad(() -> new Scored(scope, hidden, aligned));
    }

    /** One batch's scores; {@link #gradient} turns loss gradients per row into {@code dL/dh}. */
    public final class Scored {
        private final NDManager scope;
        private final NDArray flat; // [rows * T, H]
        private final NDArray weight; // [V, H] float32
        private final long[][] labels;
        private final int rows;
        private final int cols;
        private final List<int[]> ranges = new ArrayList<>(); // [start, end) of flat positions
        private final double[][] sums;
        private final int[][] counts;
        private final float[][] tokens;
        private final int[][] correct;
        private final double[][] logitSums;
        private NDArray cachedLogSoftmax; // the single chunk's log-softmax, when the batch is one chunk

        private Scored(NDManager scope, NDArray hidden, long[][] aligned) {
            this.scope = scope;
            Shape s = hidden.getShape();
            this.rows = Math.toIntExact(s.get(0));
            this.cols = Math.toIntExact(s.get(1));
            long h = s.get(2);
            this.labels = aligned;
            for (long[] set : aligned) {
                if (set.length != (long) rows * cols) {
                    throw new IllegalArgumentException(
                            "label set has " + set.length + " positions, hidden has " + rows + "x" + cols);
                }
            }
            this.flat = hidden.reshape(rows * (long) cols, h);
            this.weight = head.getDataType() == DataType.FLOAT32 ? head : widen(scope, head);
            this.sums = new double[aligned.length][rows];
            this.counts = new int[aligned.length][rows];
            this.tokens = new float[aligned.length][rows * cols];
            this.correct = new int[aligned.length][rows];
            this.logitSums = new double[aligned.length][rows];
            planRanges();
            for (int[] r : ranges) {
                scoreRange(r[0], r[1]);
            }
        }

        /** Per-row sum of the labelled log-probs of set {@code set}, float64. */
        public double[] sums(int set) {
            return sums[set];
        }

        /** Per-row number of labelled positions of set {@code set}. */
        public int[] counts(int set) {
            return counts[set];
        }

        /** Per-position log-prob of set {@code set}, [rows * T] aligned, 0 where not scored. */
        public float[] tokens(int set) {
            return tokens[set];
        }

        /** Per-row number of labelled positions of set {@code set} whose label is the argmax of the logits. */
        public int[] correct(int set) {
            return correct[set];
        }

        /** Per-row sum over labelled positions of set {@code set} of the sum of all V logits (TRL's mean logits). */
        public double[] logitSums(int set) {
            return logitSums[set];
        }

        /** Vocabulary size V. */
        public long vocab() {
            return weight.getShape().get(0);
        }

        /** Number of label sets scored. */
        public int sets() {
            return labels.length;
        }

        /**
         * {@code dL/dh} [rows, T, H] float32 on the scope, for {@code dL/d sums(s)[row] = rowWeights[s][row]}.
         * A null entry of {@code rowWeights} is a set that does not enter the loss.
         */
        public NDArray gradient(float[][] rowWeights) {
            return GradMode.noGrad(() -> {
                NDArray grad = scope.zeros(flat.getShape(), DataType.FLOAT32, flat.getDevice());
                for (int[] r : ranges) {
                    try (NDManager tmp = scope.newSubManager()) {
                        NDArray g = rangeGradient(tmp, r[0], r[1], rowWeights);
                        grad.set(new NDIndex("{}:{}", r[0], r[1]), g);
                    }
                }
                if (cachedLogSoftmax != null) {
                    cachedLogSoftmax.close();
                    cachedLogSoftmax = null;
                }
                return grad.reshape(rows, cols, flat.getShape().get(1));
            });
        }

        /** Chunks of at most {@code chunk} positions, each starting at a labelled position. */
        private void planRanges() {
            int total = rows * cols;
            int p = 0;
            while (p < total) {
                if (!labelled(p)) {
                    p++;
                    continue;
                }
                int end = Math.min(total, p + chunk);
                int last = end - 1;
                while (!labelled(last)) {
                    last--;
                }
                ranges.add(new int[] {p, last + 1});
                p = last + 1;
            }
        }

        private boolean labelled(int p) {
            for (long[] set : labels) {
                if (set[p] != IGNORE) {
                    return true;
                }
            }
            return false;
        }

        private void scoreRange(int start, int end) {
            int n = end - start;
            try (NDManager tmp = scope.newSubManager()) {
                NDArray h = flat.get(tmp, new NDIndex("{}:{}", start, end)); // [n, H] view
                NDArray z = LoraLinear.linear(h, weight, null); // [n, V]
                z.attach(tmp);
                float[] zsum = z.sum(new int[] {1}).toFloatArray(); // [n]
                long[] argmax = z.argMax(1).toLongArray(); // [n]
                NDArray lsm = z.logSoftmax(-1);
                lsm.attach(tmp);
                z.close();
                long[] idx = new long[n * labels.length];
                for (int i = 0; i < n; i++) {
                    for (int s = 0; s < labels.length; s++) {
                        idx[i * labels.length + s] = Math.max(0, labels[s][start + i]);
                    }
                }
                NDArray index = tmp.create(idx, new Shape(n, labels.length));
                float[] lp = lsm.gather(index, 1).toFloatArray(); // [n, sets]
                for (int i = 0; i < n; i++) {
                    int row = (start + i) / cols;
                    for (int s = 0; s < labels.length; s++) {
                        long label = labels[s][start + i];
                        if (label != IGNORE) {
                            float v = lp[i * labels.length + s];
                            tokens[s][start + i] = v;
                            sums[s][row] += v;
                            counts[s][row]++;
                            logitSums[s][row] += zsum[i];
                            if (argmax[i] == label) {
                                correct[s][row]++;
                            }
                        }
                    }
                }
                if (ranges.size() == 1) {
                    lsm.attach(scope);
                    cachedLogSoftmax = lsm;
                }
            }
        }

        /** {@code log_softmax(h W^T)} [n, V] of flat positions [start, end) on {@code m}. */
        private NDArray logSoftmax(NDManager m, int start, int end) {
            NDArray h = flat.get(m, new NDIndex("{}:{}", start, end)); // [n, H] view
            NDArray z = LoraLinear.linear(h, weight, null); // [n, V]
            z.attach(m);
            NDArray lsm = z.logSoftmax(-1);
            lsm.attach(m);
            z.close();
            return lsm;
        }

        /** {@code sum_s w_s W[y_s] - (sum_s w_s) softmax(h W^T) W} for positions [start, end): [n, H]. */
        private NDArray rangeGradient(NDManager m, int start, int end, float[][] rowWeights) {
            int n = end - start;
            float[] total = new float[n];
            NDArray out = null;
            for (int s = 0; s < labels.length; s++) {
                if (rowWeights[s] == null) {
                    continue;
                }
                float[] w = new float[n];
                long[] y = new long[n];
                for (int i = 0; i < n; i++) {
                    long label = labels[s][start + i];
                    if (label != IGNORE) {
                        w[i] = rowWeights[s][(start + i) / cols];
                        y[i] = label;
                        total[i] += w[i];
                    }
                }
                NDArray ys = m.create(y);
                NDArray rowsOfW = ys.getNDArrayInternal()
                        .embedding(ys, weight, SparseFormat.DENSE)
                        .singletonOrThrow(); // W[y] [n, H]
                rowsOfW.attach(m);
                NDArray term = rowsOfW.mul(column(m, w));
                out = out == null ? term : out.add(term);
            }
            NDArray p = cachedLogSoftmax != null
                    ? cachedLogSoftmax.exp()
                    : logSoftmax(m, start, end).exp(); // [n, V]
            p.attach(m);
            NDArray expected = p.mul(column(m, total)).matMul(weight); // (sum_s w_s) p W, [n, H]
            return out == null ? expected.neg() : out.sub(expected);
        }

        private NDArray column(NDManager m, float[] v) {
            return m.create(v, new Shape(v.length, 1));
        }
    }

    /** A float32 copy of a float16 weight on {@code scope}. */
    private static NDArray widen(NDManager scope, NDArray w) {
        NDArray f = w.toType(DataType.FLOAT32, false);
        f.attach(scope);
        return f;
    }
}
