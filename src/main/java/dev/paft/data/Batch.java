package dev.paft.data;

/**
 * A right-padded batch of token sequences as plain arrays, {@code [rows, cols]} with
 * {@code cols} the longest row: input ids (pad id after each row's end), labels
 * ({@link SftExample#IGNORE} on padding and untrained tokens) and attention mask (1 on tokens,
 * 0 on padding). The flat views are row-major {@code long[rows * cols]}, ready for a tensor.
 *
 * @param lengths unpadded length of each row
 */
public record Batch(int[][] inputIds, int[][] labels, int[][] attentionMask, int[] lengths) {
    public int rows() {
        return inputIds.length;
    }

    public int cols() {
        return inputIds.length == 0 ? 0 : inputIds[0].length;
    }

    /** Input ids, row-major, {@code [rows * cols]}. */
    public long[] flatInputIds() {
        return flat(inputIds);
    }

    /** Labels, row-major, {@code [rows * cols]}. */
    public long[] flatLabels() {
        return flat(labels);
    }

    /** Attention mask, row-major, {@code [rows * cols]}. */
    public long[] flatAttentionMask() {
        return flat(attentionMask);
    }

    /** Number of positions with a label. */
    public int trainedTokens() {
        int n = 0;
        for (int[] row : labels) {
            for (int l : row) {
                if (l != SftExample.IGNORE) {
                    n++;
                }
            }
        }
        return n;
    }

    private static long[] flat(int[][] a) {
        int cols = a.length == 0 ? 0 : a[0].length;
        long[] out = new long[a.length * cols];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < cols; j++) {
                out[i * cols + j] = a[i][j];
            }
        }
        return out;
    }
}
