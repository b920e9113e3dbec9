package dev.paft.report;

/**
 * Which delta a statistic describes: the paper's unscaled {@code B @ A}, or the delta actually
 * added to the weights, {@code (alpha / r) * B @ A}. For model deltas ({@code model - base}) the
 * two are the same.
 */
public enum View {
    UNSCALED,
    SCALED;

    public String label() {
        return name().toLowerCase();
    }
}
