package dev.paft.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Packing: SFT examples concatenated into one stream, an EOS between two examples when the
 * first does not already end with it (label {@link SftExample#IGNORE}), and cut into blocks of
 * {@code blockLength} tokens; labels travel with their tokens. A final short block is kept when
 * it has a label. Attention is not reset at example boundaries (classic packing).
 */
public final class Packing {
    private Packing() {}

    public static List<SftExample> pack(List<SftExample> examples, int blockLength, int eosId) {
        int total = 0;
        for (SftExample e : examples) {
            total += e.length() + 1;
        }
        int[] ids = new int[total];
        int[] labels = new int[total];
        int n = 0;
        for (SftExample e : examples) {
            if (n > 0 && ids[n - 1] != eosId) {
                ids[n] = eosId;
                labels[n] = SftExample.IGNORE;
                n++;
            }
            System.arraycopy(e.inputIds(), 0, ids, n, e.length());
            System.arraycopy(e.labels(), 0, labels, n, e.length());
            n += e.length();
        }
        List<SftExample> blocks = new ArrayList<>(n / blockLength + 1);
        for (int from = 0; from < n; from += blockLength) {
            int to = Math.min(n, from + blockLength);
            SftExample block = new SftExample(Arrays.copyOfRange(ids, from, to), Arrays.copyOfRange(labels, from, to));
            if (block.trainedTokens() > 0) {
                blocks.add(block);
            }
        }
        return blocks;
    }
}
