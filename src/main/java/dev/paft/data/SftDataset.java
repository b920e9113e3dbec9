package dev.paft.data;

import java.util.List;

/** The examples read from one SFT file, with the counts of what reading did. */
public record SftDataset(List<SftExample> examples, DatasetStats stats) {
    public SftDataset {
        examples = List.copyOf(examples);
    }
}
