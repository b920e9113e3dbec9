package dev.paft.train.loss;

import dev.paft.errors.PaftException;

import java.util.List;
import java.util.Locale;

/**
 * A preference-optimisation loss over summed completion log-probs (torchtune's loss
 * components): it never calls the model and says whether the trainer must compute reference
 * log-probs.
 */
public interface PreferenceLoss {
    /** Config name: {@code sigmoid}, {@code ipo}, {@code hinge} or {@code orpo}. */
    String name();

    /** True when {@link PreferenceBatch#refChosen()} and {@code refRejected()} are needed. */
    boolean needsReference();

    /** The mean loss over the batch and its metrics. */
    PreferenceResult compute(PreferenceBatch batch);

    /** Names accepted by {@link #create}. */
    List<String> NAMES = List.of("sigmoid", "ipo", "hinge", "orpo");

    /**
     * The loss named {@code name}. {@code beta} is DPO's beta (ORPO's lambda);
     * {@code labelSmoothing} applies to {@code sigmoid} only.
     */
    static PreferenceLoss create(String name, double beta, double labelSmoothing) {
        if (!(beta > 0)) {
            throw PaftException.usage("preference beta must be > 0, got " + beta);
        }
        String key = name.toLowerCase(Locale.ROOT);
        if (labelSmoothing != 0 && !key.equals("sigmoid")) {
            throw PaftException.usage("label_smoothing applies to the sigmoid loss only, not " + name);
        }
        return switch (key) {
            case "sigmoid" -> new DpoLoss(beta, labelSmoothing);
            case "ipo" -> new IpoLoss(beta);
            case "hinge" -> new HingeLoss(beta);
            case "orpo" -> new OrpoLoss(beta);
            default -> throw PaftException.usage(
                    "unknown preference loss '" + name + "': expected one of " + NAMES);
        };
    }
}
