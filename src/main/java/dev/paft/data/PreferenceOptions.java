package dev.paft.data;

import dev.paft.errors.PaftException;

/**
 * How preference records become pairs (TRL's DPO truncation).
 *
 * @param maxLength longest prompt + completion in tokens
 * @param maxPromptLength prompt length kept (its end) when prompt + longer completion exceeds
 *     {@code maxLength}
 * @param skipBadRecords skip and count malformed records instead of failing on the first one
 */
public record PreferenceOptions(int maxLength, int maxPromptLength, boolean skipBadRecords) {
    public PreferenceOptions {
        if (maxLength < 2) {
            throw PaftException.usage("max_length must be at least 2, got " + maxLength);
        }
        if (maxPromptLength < 1 || maxPromptLength > maxLength) {
            throw PaftException.usage(
                    "max_prompt_length must be in [1, max_length=" + maxLength + "], got " + maxPromptLength);
        }
    }

    /** zephyr's DPO recipe uses {@code (1024, 512)}. */
    public static PreferenceOptions of(int maxLength, int maxPromptLength) {
        return new PreferenceOptions(maxLength, maxPromptLength, false);
    }

    public PreferenceOptions withSkipBadRecords(boolean v) {
        return new PreferenceOptions(maxLength, maxPromptLength, v);
    }
}
