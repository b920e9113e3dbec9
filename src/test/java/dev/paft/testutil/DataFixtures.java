package dev.paft.testutil;

import dev.paft.data.SftExample;
import dev.paft.data.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Shared test helpers: fixture paths and decoding of labelled token runs. */
public final class DataFixtures {
    public static final Path DATA = Path.of("src/test/resources/data");

    private DataFixtures() {}

    /** Each maximal run of labelled positions, decoded with special tokens written out. */
    public static List<String> labelledRuns(TextTokenizer tok, SftExample e) {
        List<String> runs = new ArrayList<>();
        int i = 0;
        int[] labels = e.labels();
        while (i < labels.length) {
            if (labels[i] == SftExample.IGNORE) {
                i++;
                continue;
            }
            int j = i;
            while (j < labels.length && labels[j] != SftExample.IGNORE) {
                if (labels[j] != e.inputIds()[j]) {
                    throw new AssertionError(
                            "label " + labels[j] + " differs from token " + e.inputIds()[j] + " at " + j);
                }
                j++;
            }
            runs.add(tok.decode(Arrays.copyOfRange(e.inputIds(), i, j)));
            i = j;
        }
        return runs;
    }

    public static long count(int[] a, int v) {
        return Arrays.stream(a).filter(x -> x == v).count();
    }
}
