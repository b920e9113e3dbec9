package dev.paft.config;

/**
 * {@code preference.orpo_nll}: ORPO's NLL term over the chosen {@link #COMPLETION} (the ORPO paper) or the whole
 * chosen {@link #SEQUENCE}, prompt included (TRL's ORPOTrainer).
 */
public enum OrpoNll {
    COMPLETION,
    SEQUENCE
}
