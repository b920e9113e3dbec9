package dev.paft.report;

import java.util.List;

/**
 * What {@link SparsityReport#compute} measures.
 *
 * @param thresholds counted as {@code |delta| < t}; the paper uses 1e-5
 * @param histogram also collect the distribution of |delta| (for {@link SparsityCharts#histogram})
 * @param threads worker threads; 0 = all available processors
 */
public record ReportOptions(List<Double> thresholds, boolean histogram, int threads) {
    /** The paper's Figure 2 threshold. */
    public static final double PAPER_THRESHOLD = 1e-5;

    public ReportOptions {
        thresholds = List.copyOf(thresholds);
    }

    /** Threshold 1e-5, no histogram, all cores. */
    public static ReportOptions defaults() {
        return new ReportOptions(List.of(PAPER_THRESHOLD), false, 0);
    }

    public ReportOptions withHistogram(boolean h) {
        return new ReportOptions(thresholds, h, threads);
    }
}
