package dev.paft.merge;

/**
 * A NaN or infinite value found in a merge input's task vector (or model). The merge methods throw it
 * from the passes that already read every element (the TIES trim's histogram, the L1 sums of DARE and
 * breadcrumbs, the mix's per-block finite check), and the runner turns it into exit 4 naming the input
 * and the tensor: no method may drop a non-finite input silently.
 */
public final class NonFiniteInputException extends RuntimeException {
    private final int input;
    private final long element;
    private final float value;

    public NonFiniteInputException(int input, long element, float value) {
        super("input " + input + " has " + value + " at element " + element, null, false, false);
        this.input = input;
        this.element = element;
        this.value = value;
    }

    /** The input's index among the method's inputs (base excluded for delta methods); -1 when not yet known. */
    public int input() {
        return input;
    }

    public long element() {
        return element;
    }

    public float value() {
        return value;
    }

    /** The same finding attributed to input {@code i}. */
    NonFiniteInputException forInput(int i) {
        return new NonFiniteInputException(i, element, value);
    }

    /** Throws for the first non-finite element of {@code d} (input index unknown: -1). */
    static NonFiniteInputException first(float[] d) {
        for (int j = 0; j < d.length; j++) {
            if (!Float.isFinite(d[j])) {
                return new NonFiniteInputException(-1, j, d[j]);
            }
        }
        throw new IllegalStateException("no non-finite element");
    }
}
