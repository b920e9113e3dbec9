package dev.paft.data;

import dev.paft.errors.PaftException;

/**
 * How SFT records become examples.
 *
 * @param maxLength longest sequence in tokens; longer ones keep their start and are counted as
 *     truncated (with packing: the block length)
 * @param trainOnPrompt take the loss on every token, not only completions / assistant turns
 * @param packing concatenate examples (EOS between) and cut into {@code maxLength} blocks
 * @param skipBadRecords skip and count malformed records instead of failing on the first one
 */
public record SftOptions(int maxLength, boolean trainOnPrompt, boolean packing, boolean skipBadRecords) {
    public SftOptions {
        if (maxLength < 2) {
            throw PaftException.usage("max_length must be at least 2, got " + maxLength);
        }
    }

    /** Loss on completions only, no packing, malformed records are errors. */
    public static SftOptions defaults(int maxLength) {
        return new SftOptions(maxLength, false, false, false);
    }

    public SftOptions withTrainOnPrompt(boolean v) {
        return new SftOptions(maxLength, v, packing, skipBadRecords);
    }

    public SftOptions withPacking(boolean v) {
        return new SftOptions(maxLength, trainOnPrompt, v, skipBadRecords);
    }

    public SftOptions withSkipBadRecords(boolean v) {
        return new SftOptions(maxLength, trainOnPrompt, packing, v);
    }
}
