package dev.paft.cli;

import dev.paft.config.ConfigLoader;
import dev.paft.config.PaftConfig;
import dev.paft.pipeline.Demo;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code paft demo}: the paradigm end to end on the bundled tiny model. */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "PAFT end to end on the bundled tiny Llama (CPU, minutes): SFT, SFT with L1 (SFT_sparse) and DPO",
            "from the same base, the sequential SFT -> DPO baseline, parallel merges (linear, task arithmetic, TIES,",
            "DARE-TIES, SLERP), the sparsity chart and a comparison shaped like the paper's Table 1.",
            ""
        },
        footer = {"", "The run directory holds everything, including paft-demo.yaml to rerun or edit with paft run."})
public final class DemoCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(
            names = {"-o", "--output-dir"},
            paramLabel = "DIR",
            defaultValue = "runs/demo",
            description = "Run directory (default: ${DEFAULT-VALUE}).")
    Path outputDir;

    @Option(
            names = "--sft-steps",
            paramLabel = "N",
            defaultValue = "150",
            description = "SFT optimizer steps (default: ${DEFAULT-VALUE}).")
    int sftSteps;

    @Option(
            names = "--dpo-steps",
            paramLabel = "N",
            defaultValue = "150",
            description = "DPO optimizer steps (default: ${DEFAULT-VALUE}).")
    int dpoSteps;

    @Option(
            names = "--overwrite",
            description = "Redo the stages whose settings changed since the last demo in this directory "
                    + "(e.g. other --sft-steps); without it they are refused.")
    boolean overwrite;

    @Option(
            names = "--assets-only",
            description = "Only extract the tiny model, its tokenizer and the data into DIR/assets "
                    + "(what configs/tiny/*.yaml use) and write DIR/paft-demo.yaml; train nothing.")
    boolean assetsOnly;

    @Override
    public Integer call() {
        Path cfgFile = Demo.prepare(outputDir, sftSteps, dpoSteps);
        System.out.println("paft demo: assets in " + outputDir.resolve("assets") + ", config " + cfgFile);
        if (assetsOnly) {
            System.out.println(
                    "  model " + outputDir.resolve("assets/model") + "; data " + outputDir.resolve("assets/data")
                            + " (sft_train, sft_test, pref_train, pref_test, task_mc, pref_mc .jsonl)");
            System.out.println(
                    "  next: paft train-sft --config configs/tiny/sft-sparse.yaml   (the configs read runs/demo/assets)");
            return 0;
        }
        PaftConfig cfg = ConfigLoader.load(
                common.config != null ? common.config : cfgFile,
                common.sets,
                common.seed == null ? Map.of() : Map.of("training.seed", common.seed));
        return RunCommand.execute(cfg, null, overwrite, common);
    }
}
