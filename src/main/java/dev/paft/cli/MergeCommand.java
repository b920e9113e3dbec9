package dev.paft.cli;

import dev.paft.errors.PaftException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code paft merge}: Merge adapters or models into a base (linear, slerp, task_arithmetic, ties, dare_ties, ...). */
@Command(name = "merge", mixinStandardHelpOptions = true, description = "Merge adapters or models into a base (linear, slerp, task_arithmetic, ties, dare_ties, ...).")
public final class MergeCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        throw PaftException.notBuilt("paft merge");
    }
}
