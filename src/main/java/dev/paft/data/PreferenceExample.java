package dev.paft.data;

/**
 * One preference pair: the prompt's token ids and the ids of the chosen and rejected
 * completions that follow it (each completion ends with EOS unless truncated).
 */
public record PreferenceExample(int[] promptIds, int[] chosenIds, int[] rejectedIds) {
    /** Length of prompt + chosen. */
    public int chosenLength() {
        return promptIds.length + chosenIds.length;
    }

    /** Length of prompt + rejected. */
    public int rejectedLength() {
        return promptIds.length + rejectedIds.length;
    }
}
