package dev.paft.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class PackingTest {
    static final int I = SftExample.IGNORE;
    static final int EOS = 2;

    @Test
    void insertsEosBetweenExamplesWithoutOneAndCutsBlocks() {
        SftExample a = new SftExample(new int[] {1, 10, 11}, new int[] {I, 10, 11});
        SftExample b = new SftExample(new int[] {1, 20, EOS}, new int[] {I, I, EOS});
        SftExample c = new SftExample(new int[] {1, 30}, new int[] {I, 30});
        List<SftExample> blocks = Packing.pack(List.of(a, b, c), 3, EOS);
        // stream: 1 10 11 [EOS] 1 20 EOS 1 30  (no EOS added after b: it already ends with one)
        // blocks of 3: [1 10 11] [EOS 1 20] (no label: left out) [EOS 1 30]
        assertEquals(2, blocks.size());
        assertArrayEquals(new int[] {1, 10, 11}, blocks.get(0).inputIds());
        assertArrayEquals(new int[] {I, 10, 11}, blocks.get(0).labels());
        assertArrayEquals(new int[] {EOS, 1, 30}, blocks.get(1).inputIds());
        assertArrayEquals(new int[] {EOS, I, 30}, blocks.get(1).labels());
    }

    @Test
    void blocksWithoutLabelsAreLeftOut() {
        SftExample a = new SftExample(new int[] {1, 5, 6, 7}, new int[] {I, I, I, 7});
        List<SftExample> blocks = Packing.pack(List.of(a), 2, EOS);
        assertEquals(1, blocks.size());
        assertArrayEquals(new int[] {6, 7}, blocks.get(0).inputIds());
    }
}
