package dev.paft.data;

/**
 * One supervised fine-tuning sequence: token ids and, aligned with them, the label of each
 * position ({@link #IGNORE} where no loss is taken, else the token id itself, HF style: the
 * model shifts labels by one when computing the loss).
 */
public record SftExample(int[] inputIds, int[] labels) {
    /** Label of a position that takes no loss (PyTorch's {@code ignore_index}). */
    public static final int IGNORE = -100;

    public SftExample {
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException(
                    "inputIds and labels differ in length: " + inputIds.length + " vs " + labels.length);
        }
    }

    public int length() {
        return inputIds.length;
    }

    /** Number of positions with a label (not {@link #IGNORE}). */
    public int trainedTokens() {
        int n = 0;
        for (int l : labels) {
            if (l != IGNORE) {
                n++;
            }
        }
        return n;
    }
}
