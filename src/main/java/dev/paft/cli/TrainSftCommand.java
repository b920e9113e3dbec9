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

/** {@code paft train-sft}: LoRA supervised fine-tuning with the L1 sparsity penalty (PAFT eq. 1). */
@Command(
        name = "train-sft",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "LoRA supervised fine-tuning with the L1 sparsity penalty (PAFT eq. 1):",
            "loss = CE + l1_lambda * L1, L1 = sum |A| + |B| (factors) or sum ||scaling B A||_1 (delta).",
            ""
        },
        footer = {"", "Example:", "  paft train-sft --config configs/tiny/sft-sparse.yaml --set sft.l1_lambda=1e-3"})
public final class TrainSftCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Mixin
    TrainOptions train;

    @Option(names = "--l1-lambda", paramLabel = "L", description = "Weight of the L1 penalty; 0 = plain SFT.")
    @ConfigKey("sft.l1_lambda")
    Double l1Lambda;

    @Option(names = "--l1-target", paramLabel = "T", description = "factors or delta.")
    @ConfigKey("sft.l1_target")
    String l1Target;

    @Option(names = "--train-on-prompt", description = "Also put loss on prompt / user tokens.")
    @ConfigKey("data.train_on_prompt")
    Boolean trainOnPrompt;

    @Option(names = "--packing", description = "Pack examples into max_length blocks.")
    @ConfigKey("data.packing")
    Boolean packing;

    @Override
    public Integer call() {
        Map<String, Object> flags = ConfigFlags.values(train, this);
        PaftConfig cfg = common.load(flags);
        Device device = train.dryRun
                ? Engines.check(common.device, common.threads)
                : Engines.start(common.device, common.threads);
        try (TrainProgress progress = new TrainProgress("train-sft", System.out)) {
            Recipes.sft(cfg, device, train.recipeOptions(), progress);
        }
        return 0;
    }
}
