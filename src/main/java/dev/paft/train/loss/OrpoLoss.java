package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import dev.paft.engine.Scalars;
import java.util.Map;

/**
 * ORPO (Hong et al. 2024; TRL {@code ORPOTrainer}), reference-free:
 * {@code L = NLL(chosen) - lambda * mean_b log sigma(log_odds)},
 * {@code log_odds = (lp_c - lp_r) - (log1mexp(lp_c) - log1mexp(lp_r))},
 * where lp is the per-token averaged completion log-prob and {@code log1mexp(x) = log(1 - e^x)}
 * ({@link StableMath#log1mexp}).
 *
 * <p>The NLL is an input ({@link PreferenceBatch#chosenNll()}): paft's default is the NLL of
 * the chosen completion (ORPO paper); TRL's whole-sequence NLL is the trainer's option.
 * Metrics as TRL's ORPOTrainer (unchanged across versions; now {@code trl.experimental.orpo}):
 * rewards {@code lambda * lp}, {@code logps/*} averaged, {@code nll_loss},
 * {@code log_odds_ratio = mean log sigma(log_odds)}, {@code log_odds_chosen = mean log_odds}.
 */
public final class OrpoLoss implements PreferenceLoss {
    private final double lambda;

    public OrpoLoss(double lambda) {
        this.lambda = lambda;
    }

    @Override
    public String name() {
        return "orpo";
    }

    @Override
    public boolean needsReference() {
        return false;
    }

    @Override
    public PreferenceResult compute(PreferenceBatch in) {
        if (in.chosenNll() == null) {
            throw new IllegalArgumentException("ORPO needs the chosen NLL (PreferenceBatch.chosenNll)");
        }
        NDArray lpc = in.policyChosen().div(in.chosenTokens()); // [B]
        NDArray lpr = in.policyRejected().div(in.rejectedTokens());
        NDArray logOdds = logOdds(lpc, lpr); // [B]
        NDArray ratio = StableMath.logSigmoid(logOdds); // log sigma(log_odds)
        NDArray orTerm = ratio.mean();
        NDArray loss = in.chosenNll().sub(orTerm.mul(Scalars.of(lambda, orTerm)));

        NDArray lambdaT = Scalars.of(lambda, lpc);
        Map<String, NDArray> metrics = RewardMetrics.of(lpc.mul(lambdaT), lpr.mul(lambdaT), lpc, lpr);
        metrics.put("nll_loss", in.chosenNll().stopGradient());
        metrics.put("log_odds_ratio", orTerm.stopGradient());
        metrics.put("log_odds_chosen", logOdds.stopGradient().mean());
        return new PreferenceResult(loss, metrics);
    }

    /** {@code log(odds(lp_c) / odds(lp_r))}, odds(p) = p / (1 - p), from log-probs lp. */
    public static NDArray logOdds(NDArray lpChosen, NDArray lpRejected) {
        return lpChosen.sub(lpRejected).sub(StableMath.log1mexp(lpChosen).sub(StableMath.log1mexp(lpRejected)));
    }
}
