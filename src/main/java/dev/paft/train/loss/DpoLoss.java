package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import dev.paft.engine.Scalars;
import dev.paft.errors.PaftException;

/**
 * DPO with the sigmoid loss (Rafailov et al. 2023; TRL {@code loss_type="sigmoid"}) and optional
 * conservative label smoothing (cDPO, Mitchell 2023):
 * {@code L = mean_b[ -(1 - e) log sigma(beta * Delta) - e log sigma(-beta * Delta) ]},
 * {@code Delta = (logp_c - ref_c) - (logp_r - ref_r)}, log-probs summed over completion tokens.
 *
 * <p>TRL versions: with {@code e = 0} (the default) this is current TRL's sigmoid loss. With
 * {@code e > 0} it is TRL 0.28 and earlier ({@code sigmoid} + {@code label_smoothing}); TRL 0.29 and
 * later ignore {@code label_smoothing} for the sigmoid loss (it only feeds robust, EXO and AOT). paft
 * keeps cDPO, documented as the TRL &lt;= 0.28 behaviour.
 *
 * <p>When the policy equals the reference (LoRA at step 0, B = 0), Delta = 0 and L = ln 2.
 * Rewards: {@code beta * (logp - ref)}.
 */
public final class DpoLoss implements PreferenceLoss {
    private final double beta;
    private final double labelSmoothing;

    public DpoLoss(double beta, double labelSmoothing) {
        if (!(labelSmoothing >= 0 && labelSmoothing < 0.5)) {
            throw PaftException.usage("label_smoothing must be in [0, 0.5), got " + labelSmoothing);
        }
        this.beta = beta;
        this.labelSmoothing = labelSmoothing;
    }

    @Override
    public String name() {
        return "sigmoid";
    }

    @Override
    public boolean needsReference() {
        return true;
    }

    @Override
    public PreferenceResult compute(PreferenceBatch in) {
        NDArray chosen = RewardMetrics.reward(in.policyChosen(), in.refChosen(), beta); // beta(logp_c - ref_c)
        NDArray rejected = RewardMetrics.reward(in.policyRejected(), in.refRejected(), beta);
        NDArray z = chosen.sub(rejected); // beta * Delta, [B]
        NDArray losses = StableMath.logSigmoid(z).neg(); // -log sigma(z)
        if (labelSmoothing != 0) {
            NDArray flipped = StableMath.logSigmoid(z.neg()).neg(); // -log sigma(-z)
            losses = losses.mul(Scalars.of(1 - labelSmoothing, z)).add(flipped.mul(Scalars.of(labelSmoothing, z)));
        }
        return new PreferenceResult(
                losses.mean(), RewardMetrics.of(chosen, rejected, in.policyChosen(), in.policyRejected()));
    }
}
