package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import dev.paft.engine.Scalars;

/**
 * IPO (Azar et al. 2023; TRL {@code loss_type="ipo"}):
 * {@code L = mean_b (Delta_avg - 1 / (2 beta))^2}, where
 * {@code Delta_avg = (lp_c - ref_c) / n_c - (lp_r - ref_r) / n_r} uses <em>per-token averaged</em>
 * log-ratios (sum / completion token count), as TRL does for IPO.
 *
 * <p>Metrics follow TRL 0.29 and later (current TRL): the rewards ({@code beta * (lp - ref)}) and the
 * logged {@code logps/*} are the <em>summed</em> values, as for every other loss; only the loss uses
 * the averages. (TRL 0.28 and earlier logged the averaged values for IPO.)
 */
public final class IpoLoss implements PreferenceLoss {
    private final double beta;

    public IpoLoss(double beta) {
        this.beta = beta;
    }

    @Override
    public String name() {
        return "ipo";
    }

    @Override
    public boolean needsReference() {
        return true;
    }

    @Override
    public PreferenceResult compute(PreferenceBatch in) {
        // Per-token averages; counts carry no gradient.
        NDArray pc = in.policyChosen().div(in.chosenTokens());
        NDArray pr = in.policyRejected().div(in.rejectedTokens());
        NDArray rc = in.refChosen().div(in.chosenTokens());
        NDArray rr = in.refRejected().div(in.rejectedTokens());
        NDArray delta = pc.sub(rc).sub(pr.sub(rr)); // Delta_avg, [B]
        NDArray d = delta.sub(Scalars.of(1.0 / (2.0 * beta), delta)); // Delta_avg - 1/(2 beta)
        NDArray losses = d.mul(d);
        // TRL >= 0.29: rewards and logps are logged summed (TRL <= 0.28 logged the averages).
        return new PreferenceResult(
                losses.mean(),
                RewardMetrics.of(
                        RewardMetrics.reward(in.policyChosen(), in.refChosen(), beta),
                        RewardMetrics.reward(in.policyRejected(), in.refRejected(), beta),
                        in.policyChosen(),
                        in.policyRejected()));
    }
}
