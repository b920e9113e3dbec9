package dev.paft.data;

/**
 * What reading one dataset file did: records read (non-blank lines), bad records skipped,
 * examples kept but truncated to the length limit, examples dropped (nothing left to train on
 * after truncation, or a prompt that alone fills the limit; not counted as truncated), and
 * examples produced (with packing: the blocks).
 */
public record DatasetStats(String file, int read, int skippedBad, int truncated, int dropped, int examples) {
    @Override
    public String toString() {
        return file + ": read " + read + ", skipped bad " + skippedBad + ", truncated " + truncated + ", dropped "
                + dropped + ", examples " + examples;
    }

    /** Mutable counts while reading. */
    static final class Counter {
        int read;
        int skippedBad;
        int truncated;
        int dropped;

        DatasetStats toStats(String file, int examples) {
            return new DatasetStats(file, read, skippedBad, truncated, dropped, examples);
        }
    }
}
