package dev.paft.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchesTest {
    static final int I = SftExample.IGNORE;
    static final int PAD = 0;

    @Test
    void sftRowsAreRightPaddedToTheLongest() {
        Batch b = Batches.sft(
                List.of(
                        new SftExample(new int[] {1, 5, 6}, new int[] {I, 5, 6}),
                        new SftExample(new int[] {1, 7}, new int[] {I, 7})),
                PAD);
        assertEquals(2, b.rows());
        assertEquals(3, b.cols());
        assertArrayEquals(new int[][] {{1, 5, 6}, {1, 7, PAD}}, b.inputIds());
        assertArrayEquals(new int[][] {{I, 5, 6}, {I, 7, I}}, b.labels());
        assertArrayEquals(new int[][] {{1, 1, 1}, {1, 1, 0}}, b.attentionMask());
        assertArrayEquals(new int[] {3, 2}, b.lengths());
        assertArrayEquals(new long[] {1, 5, 6, 1, 7, PAD}, b.flatInputIds());
        assertArrayEquals(new long[] {1, 1, 1, 1, 1, 0}, b.flatAttentionMask());
        assertArrayEquals(new long[] {I, 5, 6, I, 7, I}, b.flatLabels());
        assertEquals(3, b.trainedTokens());
    }

    @Test
    void preferencePairsAreChosenRowsThenRejectedRows() {
        Batch b = Batches.preference(
                List.of(
                        new PreferenceExample(new int[] {1, 10}, new int[] {20, 2}, new int[] {30, 31, 2}),
                        new PreferenceExample(new int[] {1}, new int[] {40, 2}, new int[] {2})),
                PAD);
        assertEquals(4, b.rows());
        assertEquals(5, b.cols());
        assertArrayEquals(
                new int[][] {
                    {1, 10, 20, 2, PAD}, // chosen 0
                    {1, 40, 2, PAD, PAD}, // chosen 1
                    {1, 10, 30, 31, 2}, // rejected 0
                    {1, 2, PAD, PAD, PAD}, // rejected 1
                },
                b.inputIds());
        assertArrayEquals(
                new int[][] {
                    {I, I, 20, 2, I},
                    {I, 40, 2, I, I},
                    {I, I, 30, 31, 2},
                    {I, 2, I, I, I},
                },
                b.labels());
        assertArrayEquals(new int[] {1, 1, 1, 1, 0}, b.attentionMask()[0]);
        assertArrayEquals(new int[] {4, 3, 5, 2}, b.lengths());
    }

    @Test
    void chunksSplitAnEpoch() {
        List<Integer> items = List.of(1, 2, 3, 4, 5);
        assertEquals(List.of(List.of(1, 2), List.of(3, 4), List.of(5)), Batches.chunks(items, 2, false));
        assertEquals(List.of(List.of(1, 2), List.of(3, 4)), Batches.chunks(items, 2, true));
    }

    @Test
    void shuffleIsAPermutationDeterministicPerSeedAndEpoch() {
        int[] p = Shuffle.permutation(100, 42, 0);
        int[] sorted = p.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < 100; i++) {
            assertEquals(i, sorted[i]);
        }
        assertArrayEquals(p, Shuffle.permutation(100, 42, 0));
        assertNotEquals(Arrays.toString(p), Arrays.toString(Shuffle.permutation(100, 42, 1)));
        assertNotEquals(Arrays.toString(p), Arrays.toString(Shuffle.permutation(100, 43, 0)));
        List<String> items = List.of("a", "b", "c", "d", "e");
        List<String> s = Shuffle.shuffled(items, 7, 3);
        assertEquals(s, Shuffle.shuffled(items, 7, 3));
        assertEquals(5, s.size());
        assertEquals(new HashSet<>(items), new HashSet<>(s));
    }
}
