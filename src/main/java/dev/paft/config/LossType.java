package dev.paft.config;

import com.fasterxml.jackson.annotation.JsonAlias;
import java.util.Locale;

/**
 * {@code preference.loss}. {@link #DPO} is the DPO sigmoid loss, TRL's {@code loss_type: sigmoid} (that spelling is
 * accepted too); {@link #ORPO} weights its odds-ratio term by {@code preference.orpo_lambda}, the others take
 * {@code preference.beta}.
 */
public enum LossType {
    @JsonAlias("sigmoid")
    DPO,
    IPO,
    HINGE,
    ORPO;

    /** TRL's {@code loss_type} name (DPOTrainer's; ORPO has its own trainer): sigmoid, ipo, hinge, orpo. */
    public String trlName() {
        return this == DPO ? "sigmoid" : name().toLowerCase(Locale.ROOT);
    }
}
