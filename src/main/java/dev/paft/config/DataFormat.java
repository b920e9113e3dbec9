package dev.paft.config;

/**
 * {@code data.format}: which TRL dataset format the records are in; {@link #AUTO} tells it from each record's fields.
 * SFT reads messages, prompt_completion and text; preference training reads preference.
 */
public enum DataFormat {
    AUTO,
    MESSAGES,
    PROMPT_COMPLETION,
    TEXT,
    PREFERENCE;

    /** True for the formats SFT reads (auto included). */
    public boolean sft() {
        return this != PREFERENCE;
    }

    /** True for the formats preference training reads (auto included). */
    public boolean preference() {
        return this == AUTO || this == PREFERENCE;
    }
}
