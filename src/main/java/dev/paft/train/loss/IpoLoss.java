package dev.paft.train.loss;

import dev.paft.engine.Scalars;

import ai.djl.ndarray.NDArray;

/**
 * IPO (Azar et al. 2023; TRL {@code loss_type="ipo"}):
 * {@code L = mean_b (Delta_avg - 1 / (2 beta))^2}, where
 * {@code Delta_avg = (lp_c - ref_c) - (lp_r - ref_r)} uses <em>per-token averaged</em>
 * log-probs (sum / token count), as TRL does for IPO.
 *
 * <p>As in TRL, the rewards ({@code beta * (lp - ref)}) and the logged {@code logps/*} are the
 * averaged values too.
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
        NDArray delta = pc.sub(rc).sub(pr.sub(rr));                                      // Delta_avg, [B]
        NDArray d = delta.sub(Scalars.of(1.0 / (2.0 * beta), delta));                   // Delta_avg - 1/(2 beta)
        NDArray losses = d.mul(d);
        return new PreferenceResult(losses.mean(), RewardMetrics.of(
                RewardMetrics.reward(pc, rc, beta), RewardMetrics.reward(pr, rr, beta), pc, pr));
    }
}
