package dev.paft.config;

/**
 * Preference alignment.
 *
 * @param loss dpo (TRL's sigmoid), ipo, hinge or orpo
 * @param labelSmoothing conservative DPO's epsilon (sigmoid loss; TRL <= 0.28 behaviour, current TRL ignores it)
 * @param orpoNll completion (ORPO paper: NLL over the chosen completion) or sequence (TRL)
 * @param precomputeRef compute reference log-probs once over the dataset before training
 * @param disableDropout train with LoRA dropout off (TRL's DPO/ORPO default {@code disable_dropout=True});
 *     {@code adapter_config.json} still records {@code lora.dropout}
 */
public record PreferenceConfig(
        LossType loss,
        double beta,
        double labelSmoothing,
        double orpoLambda,
        OrpoNll orpoNll,
        boolean precomputeRef,
        boolean disableDropout) {
    void validate(Validator v) {
        v.required("preference.loss", loss, LossType.class);
        v.check("preference.beta", beta > 0 && Double.isFinite(beta), "must be > 0", beta);
        v.check(
                "preference.label_smoothing",
                labelSmoothing >= 0 && labelSmoothing < 0.5,
                "must be in [0, 0.5)",
                labelSmoothing);
        v.check("preference.orpo_lambda", orpoLambda >= 0 && Double.isFinite(orpoLambda), "must be >= 0", orpoLambda);
        v.required("preference.orpo_nll", orpoNll, OrpoNll.class);
    }
}
