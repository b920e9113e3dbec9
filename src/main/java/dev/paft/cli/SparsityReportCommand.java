package dev.paft.cli;

import dev.paft.errors.PaftException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code paft sparsity-report}: Per-layer sparsity of adapters or deltas (the paper's Figure 2). */
@Command(name = "sparsity-report", mixinStandardHelpOptions = true, description = "Per-layer sparsity of adapters or deltas (the paper's Figure 2).")
public final class SparsityReportCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        throw PaftException.notBuilt("paft sparsity-report");
    }
}
