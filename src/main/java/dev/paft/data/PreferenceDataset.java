package dev.paft.data;

import java.util.List;

/** The pairs read from one preference file, with the counts of what reading did. */
public record PreferenceDataset(List<PreferenceExample> examples, DatasetStats stats) {
    public PreferenceDataset {
        examples = List.copyOf(examples);
    }
}
