package dev.paft.config;

/**
 * PAFT's sparse SFT term (eq. 1): {@code loss = CE + l1_lambda * L1}.
 *
 * @param l1Target factors: sum |A| + |B| over all adapter tensors (the paper's delta_sft as
 *     adapter parameters); delta: sum over modules of || scaling * B @ A ||_1
 */
public record SftConfig(double l1Lambda, L1Target l1Target) {
    void validate(Validator v) {
        v.check("sft.l1_lambda", l1Lambda >= 0 && Double.isFinite(l1Lambda), "must be >= 0", l1Lambda);
        v.required("sft.l1_target", l1Target, L1Target.class);
    }
}
