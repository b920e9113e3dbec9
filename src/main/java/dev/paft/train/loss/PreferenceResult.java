package dev.paft.train.loss;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * A preference loss's output: the scalar loss to back-propagate and detached scalar metrics,
 * keyed by TRL's log names ({@code rewards/chosen}, {@code rewards/rejected},
 * {@code rewards/accuracies}, {@code rewards/margins}, {@code logps/chosen},
 * {@code logps/rejected}; ORPO adds {@code nll_loss}, {@code log_odds_ratio},
 * {@code log_odds_chosen}). Metrics are batch means.
 */
public record PreferenceResult(NDArray loss, Map<String, NDArray> metrics) {}
