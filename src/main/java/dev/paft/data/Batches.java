package dev.paft.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Building padded {@link Batch}es from examples, and splitting an epoch into batch-sized chunks. */
public final class Batches {
    private Batches() {}

    /** SFT examples, one row each, right-padded to the longest. */
    public static Batch sft(List<SftExample> examples, int padId) {
        int n = examples.size();
        int[][] ids = new int[n][];
        int[][] labels = new int[n][];
        for (int i = 0; i < n; i++) {
            ids[i] = examples.get(i).inputIds();
            labels[i] = examples.get(i).labels();
        }
        return pad(ids, labels, padId);
    }

    /**
     * Preference pairs laid out as {@code 2k} rows: chosen rows {@code 0..k-1}, rejected rows
     * {@code k..2k-1}; each row is prompt + completion, labels only on the completion tokens.
     */
    public static Batch preference(List<PreferenceExample> pairs, int padId) {
        int k = pairs.size();
        int[][] ids = new int[2 * k][];
        int[][] labels = new int[2 * k][];
        for (int i = 0; i < k; i++) {
            PreferenceExample p = pairs.get(i);
            ids[i] = concat(p.promptIds(), p.chosenIds());
            labels[i] = completionLabels(p.promptIds().length, p.chosenIds());
            ids[k + i] = concat(p.promptIds(), p.rejectedIds());
            labels[k + i] = completionLabels(p.promptIds().length, p.rejectedIds());
        }
        return pad(ids, labels, padId);
    }

    /** Rows right-padded to the longest: pad id, label IGNORE, mask 0 after each row's end. */
    public static Batch pad(int[][] ids, int[][] labels, int padId) {
        int rows = ids.length;
        int cols = 0;
        for (int[] r : ids) {
            cols = Math.max(cols, r.length);
        }
        int[][] outIds = new int[rows][cols];
        int[][] outLabels = new int[rows][cols];
        int[][] mask = new int[rows][cols];
        int[] lengths = new int[rows];
        for (int i = 0; i < rows; i++) {
            int len = ids[i].length;
            lengths[i] = len;
            System.arraycopy(ids[i], 0, outIds[i], 0, len);
            Arrays.fill(outIds[i], len, cols, padId);
            System.arraycopy(labels[i], 0, outLabels[i], 0, len);
            Arrays.fill(outLabels[i], len, cols, SftExample.IGNORE);
            Arrays.fill(mask[i], 0, len, 1);
        }
        return new Batch(outIds, outLabels, mask, lengths);
    }

    /** Consecutive chunks of {@code size}; the last shorter one is dropped when asked. */
    public static <T> List<List<T>> chunks(List<T> items, int size, boolean dropLast) {
        if (size < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + size);
        }
        List<List<T>> out = new ArrayList<>();
        for (int from = 0; from < items.size(); from += size) {
            int to = Math.min(items.size(), from + size);
            if (to - from < size && dropLast) {
                break;
            }
            out.add(items.subList(from, to));
        }
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static int[] completionLabels(int promptLength, int[] completion) {
        int[] out = new int[promptLength + completion.length];
        Arrays.fill(out, 0, promptLength, SftExample.IGNORE);
        System.arraycopy(completion, 0, out, promptLength, completion.length);
        return out;
    }
}
