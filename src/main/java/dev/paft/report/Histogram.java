package dev.paft.report;

/**
 * The bins of the |delta| histogram: bin i holds the floats whose bit pattern shifted right by 20
 * is i, i.e. 8 bins per power of two (log10 width about 0.038). Bin 0 holds exact zeros (and the
 * tiniest subnormals). Binning by bits keeps the hot loop free of logarithms.
 */
public final class Histogram {
    public static final int BINS = DeltaKernel.HIST_BINS;

    private Histogram() {}

    /** The smallest |delta| in bin i. */
    public static float lowerEdge(int bin) {
        return Float.intBitsToFloat(bin << DeltaKernel.HIST_SHIFT);
    }

    /** log10 of the bin's geometric centre (NaN for bin 0, which holds zeros). */
    public static double log10Centre(int bin) {
        if (bin == 0) {
            return Double.NaN;
        }
        return 0.5 * (Math.log10(lowerEdge(bin)) + Math.log10(Math.nextDown(lowerEdge(bin + 1))));
    }
}
