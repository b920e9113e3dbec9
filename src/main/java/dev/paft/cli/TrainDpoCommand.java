package dev.paft.cli;

import ai.djl.Device;
import dev.paft.config.PaftConfig;
import dev.paft.engine.Engines;
import dev.paft.train.Recipes;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code paft train-dpo}: LoRA preference training, DPO family or ORPO. */
@Command(
        name = "train-dpo",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "LoRA preference training from the base model: DPO (sigmoid, with optional label smoothing),",
            "IPO, hinge, or ORPO. DPO's reference is the base (the adapter disabled), not a second copy.",
            ""
        },
        footer = {"", "Example:", "  paft train-dpo --config configs/tiny/dpo.yaml --loss orpo"})
public final class TrainDpoCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Mixin
    TrainOptions train;

    @Option(names = "--loss", paramLabel = "L", description = "dpo, ipo, hinge or orpo.")
    @ConfigKey("preference.loss")
    String loss;

    @Option(names = "--beta", paramLabel = "B", description = "DPO beta.")
    @ConfigKey("preference.beta")
    Double beta;

    @Option(
            names = "--label-smoothing",
            paramLabel = "E",
            description = "Conservative DPO epsilon, sigmoid loss only; TRL <= 0.28 behaviour, current TRL ignores it.")
    @ConfigKey("preference.label_smoothing")
    Double labelSmoothing;

    @Option(names = "--orpo-lambda", paramLabel = "L", description = "ORPO odds-ratio weight.")
    @ConfigKey("preference.orpo_lambda")
    Double orpoLambda;

    @Option(names = "--max-prompt-length", paramLabel = "N", description = "Prompt tokens kept.")
    @ConfigKey("data.max_prompt_length")
    Integer maxPromptLength;

    @Option(names = "--precompute-ref", description = "Compute reference log-probs once before training.")
    @ConfigKey("preference.precompute_ref")
    Boolean precomputeRef;

    @Option(
            names = "--disable-dropout",
            negatable = true,
            paramLabel = "",
            description = "LoRA dropout off while training, as TRL's DPO/ORPO default.")
    @ConfigKey("preference.disable_dropout")
    Boolean disableDropout;

    @Override
    public Integer call() {
        Map<String, Object> flags = ConfigFlags.values(train, this);
        PaftConfig cfg = common.load(flags);
        Device device = train.dryRun
                ? Engines.check(common.device, common.threads)
                : Engines.start(common.device, common.threads);
        try (TrainProgress progress = new TrainProgress("train-dpo", System.out)) {
            Recipes.preference(cfg, device, train.recipeOptions(), progress);
        }
        return 0;
    }
}
