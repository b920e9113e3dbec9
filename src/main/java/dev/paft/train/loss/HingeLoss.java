package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import dev.paft.engine.Scalars;

/**
 * DPO with the hinge loss (SLiC; TRL {@code loss_type="hinge"}):
 * {@code L = mean_b relu(1 - beta * Delta)}, {@code Delta = (logp_c - ref_c) - (logp_r - ref_r)},
 * log-probs summed over completion tokens. Rewards: {@code beta * (logp - ref)}. Loss and metrics
 * are the same in every TRL version (0.28 and earlier, and current).
 */
public final class HingeLoss implements PreferenceLoss {
    private final double beta;

    public HingeLoss(double beta) {
        this.beta = beta;
    }

    @Override
    public String name() {
        return "hinge";
    }

    @Override
    public boolean needsReference() {
        return true;
    }

    @Override
    public PreferenceResult compute(PreferenceBatch in) {
        NDArray chosen = RewardMetrics.reward(in.policyChosen(), in.refChosen(), beta);
        NDArray rejected = RewardMetrics.reward(in.policyRejected(), in.refRejected(), beta);
        NDArray z = chosen.sub(rejected); // beta * Delta
        NDArray losses = Activation.relu(z.neg().add(Scalars.of(1.0, z))); // relu(1 - z)
        return new PreferenceResult(
                losses.mean(), RewardMetrics.of(chosen, rejected, in.policyChosen(), in.policyRejected()));
    }
}
