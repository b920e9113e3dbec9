package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import dev.paft.engine.Scalars;
import java.util.LinkedHashMap;
import java.util.Map;

/** TRL's reward and log-prob metrics, detached batch means. Shared by the preference losses. */
final class RewardMetrics {
    private RewardMetrics() {}

    /**
     * {@code rewards/chosen}, {@code rewards/rejected}, {@code rewards/accuracies}
     * ({@code mean(chosen > rejected)}), {@code rewards/margins}, {@code logps/chosen},
     * {@code logps/rejected}; rewards and logps are [B].
     */
    static Map<String, NDArray> of(
            NDArray chosenRewards, NDArray rejectedRewards, NDArray chosenLogps, NDArray rejectedLogps) {
        NDArray rc = chosenRewards.stopGradient();
        NDArray rr = rejectedRewards.stopGradient();
        Map<String, NDArray> m = new LinkedHashMap<>();
        m.put("rewards/chosen", rc.mean());
        m.put("rewards/rejected", rr.mean());
        m.put("rewards/accuracies", rc.gt(rr).toType(rc.getDataType(), false).mean());
        m.put("rewards/margins", rc.sub(rr).mean());
        m.put("logps/chosen", chosenLogps.stopGradient().mean());
        m.put("logps/rejected", rejectedLogps.stopGradient().mean());
        return m;
    }

    /** {@code beta * (policy - reference)}, [B]. */
    static NDArray reward(NDArray policy, NDArray reference, double beta) {
        return policy.sub(reference).mul(Scalars.of(beta, policy));
    }
}
