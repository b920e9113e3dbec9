package dev.paft.cli;

import ai.djl.Device;
import dev.paft.config.PaftConfig;
import dev.paft.engine.Engines;
import dev.paft.io.OutputLock;
import dev.paft.pipeline.PaftRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code paft run}: the whole PAFT paradigm from one config. */
@Command(
        name = "run",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "The whole PAFT paradigm from one config: SFT (with L1) and preference training from the same",
            "base, parallel merges of the two deltas, the sparsity report, evaluations and a comparison table.",
            "Rerunning skips complete stages made from the same config and resumes an interrupted training",
            "from its checkpoint; a stage whose config changed is refused unless --overwrite is given.",
            ""
        },
        footer = {
            "",
            "Example:",
            "  paft run --config configs/zephyr/paft.yaml --device cuda",
            "  paft run --config runs/demo/paft-demo.yaml --sequential"
        })
public final class RunCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(
            names = {"-o", "--output-dir"},
            paramLabel = "DIR",
            description = "Run directory.")
    @ConfigKey("run.output_dir")
    Path outputDir;

    @Option(
            names = "--sequential",
            negatable = true,
            description = "Also run the sequential baseline SFT -> preference.")
    @ConfigKey("run.sequential")
    Boolean sequential;

    @Option(
            names = "--overwrite",
            description =
                    "Redo the stages whose config or inputs changed since they were made, "
                            + "and what depends on them (without it such stages are refused; unchanged stages are always kept).")
    boolean overwrite;

    @Override
    public Integer call() {
        PaftConfig cfg = common.load(ConfigFlags.values(this));
        return execute(cfg, sequential, overwrite, common);
    }

    static int execute(PaftConfig cfg, Boolean sequential, boolean overwrite, CommonOptions common) {
        PaftRun.Plan plan = PaftRun.Plan.of(cfg, sequential).withOverwrite(overwrite);
        Device device = Engines.start(common.device, common.threads);
        long t0 = System.nanoTime();
        PaftRun.Outcome o;
        try (OutputLock lock = OutputLock.acquire(plan.out())) { // one process per run directory
            o = new PaftRun(plan, device, name -> new TrainProgress(name, System.out), System.out::println).run();
        }
        System.out.println();
        System.out.println("PAFT comparison (" + o.out().resolve("comparison.txt") + "):");
        System.out.print(o.table());
        Path chart = o.out().resolve("sparsity.png");
        System.out.printf(
                Locale.ROOT,
                "%nsparsity chart: %s; report: %s; total %.0fs%n",
                Files.exists(chart) ? chart : "not drawn (see above)",
                o.out().resolve("sparsity.txt"),
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
