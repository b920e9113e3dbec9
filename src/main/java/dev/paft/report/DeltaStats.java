package dev.paft.report;

import java.util.Arrays;

/**
 * Summary statistics of a set of delta elements: how many there are, how many have
 * {@code |delta| < threshold_t} for each threshold, the L1 norm {@code sum |delta|}, the squared L2
 * norm {@code sum delta^2} and {@code max |delta|}. Statistics of disjoint sets pool with
 * {@link #plus}, so a layer's statistics are those of all its modules' elements together.
 *
 * @param below one count per threshold, in the report's threshold order
 */
public record DeltaStats(long numel, long[] below, double l1, double sumSquares, double maxAbs) {

    public static DeltaStats empty(int thresholds) {
        return new DeltaStats(0, new long[thresholds], 0, 0, 0);
    }

    /** Fraction of elements with {@code |delta| < threshold} for threshold index t (NaN when empty). */
    public double fraction(int t) {
        return numel == 0 ? Double.NaN : (double) below[t] / numel;
    }

    /** The L2 (Frobenius) norm {@code sqrt(sum delta^2)}. */
    public double l2() {
        return Math.sqrt(sumSquares);
    }

    /** The statistics of both sets of elements together. */
    public DeltaStats plus(DeltaStats o) {
        long[] b = below.clone();
        for (int i = 0; i < b.length; i++) {
            b[i] += o.below[i];
        }
        return new DeltaStats(numel + o.numel, b, l1 + o.l1, sumSquares + o.sumSquares, Math.max(maxAbs, o.maxAbs));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DeltaStats s
                && numel == s.numel
                && Arrays.equals(below, s.below)
                && l1 == s.l1
                && sumSquares == s.sumSquares
                && maxAbs == s.maxAbs;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(numel) * 31 + Arrays.hashCode(below);
    }

    @Override
    public String toString() {
        return "DeltaStats[numel=" + numel + ", below=" + Arrays.toString(below) + ", l1=" + l1 + ", l2=" + l2()
                + ", maxAbs=" + maxAbs + "]";
    }
}
