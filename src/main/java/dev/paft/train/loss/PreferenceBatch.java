package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;

/**
 * What a preference loss sees of one batch of (prompt, chosen, rejected) pairs; all [B] except
 * {@code chosenNll}.
 *
 * @param policyChosen   summed completion log-probs of the chosen answers under the policy
 * @param policyRejected same for the rejected answers
 * @param refChosen      summed log-probs under the reference (base model, adapter off); null
 *                       for reference-free losses
 * @param refRejected    same for the rejected answers; null for reference-free losses
 * @param chosenTokens   completion token counts of the chosen answers (float, no gradient)
 * @param rejectedTokens completion token counts of the rejected answers
 * @param chosenNll      scalar NLL of the chosen answers (ORPO's SFT term); null otherwise.
 *                       Which tokens it covers (the chosen completion, or TRL's whole
 *                       sequence) is the trainer's choice.
 */
public record PreferenceBatch(
        NDArray policyChosen,
        NDArray policyRejected,
        NDArray refChosen,
        NDArray refRejected,
        NDArray chosenTokens,
        NDArray rejectedTokens,
        NDArray chosenNll) {

    /** A batch for reference-based losses (DPO sigmoid, IPO, hinge). */
    public static PreferenceBatch withReference(
            SequenceLogProbs chosen,
            SequenceLogProbs rejected,
            SequenceLogProbs refChosen,
            SequenceLogProbs refRejected) {
        return new PreferenceBatch(
                chosen.sum(),
                rejected.sum(),
                refChosen.sum(),
                refRejected.sum(),
                chosen.count(),
                rejected.count(),
                null);
    }

    /** A batch for ORPO: no reference, the chosen NLL instead. */
    public static PreferenceBatch withNll(SequenceLogProbs chosen, SequenceLogProbs rejected, NDArray chosenNll) {
        return new PreferenceBatch(
                chosen.sum(), rejected.sum(), null, null, chosen.count(), rejected.count(), chosenNll);
    }
}
