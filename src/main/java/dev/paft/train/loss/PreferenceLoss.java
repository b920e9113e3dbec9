package dev.paft.train.loss;

import dev.paft.config.LossType;
import dev.paft.errors.PaftException;

/**
 * A preference-optimisation loss over summed completion log-probs (torchtune's loss
 * components): it never calls the model and says whether the trainer must compute reference
 * log-probs.
 */
public interface PreferenceLoss {
    /** TRL's name ({@link LossType#trlName()}): {@code sigmoid}, {@code ipo}, {@code hinge} or {@code orpo}. */
    String name();

    /** True when {@link PreferenceBatch#refChosen()} and {@code refRejected()} are needed. */
    boolean needsReference();

    /** The mean loss over the batch and its metrics. */
    PreferenceResult compute(PreferenceBatch batch);

    /**
     * The loss of that type. {@code beta} is DPO's beta (ORPO's lambda); {@code labelSmoothing} applies to
     * the sigmoid loss ({@link LossType#DPO}) only.
     */
    static PreferenceLoss create(LossType type, double beta, double labelSmoothing) {
        if (!(beta > 0)) {
            throw PaftException.usage("preference beta must be > 0, got " + beta);
        }
        if (labelSmoothing != 0 && type != LossType.DPO) {
            throw PaftException.usage("label_smoothing applies to the sigmoid loss only, not " + type.trlName());
        }
        return switch (type) {
            case DPO -> new DpoLoss(beta, labelSmoothing);
            case IPO -> new IpoLoss(beta);
            case HINGE -> new HingeLoss(beta);
            case ORPO -> new OrpoLoss(beta);
        };
    }
}
