package dev.paft.cli;

import dev.paft.errors.PaftException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code paft run}: The whole PAFT paradigm from one config: SFT || DPO, merge, report, eval. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "The whole PAFT paradigm from one config: SFT || DPO, merge, report, eval.")
public final class RunCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        throw PaftException.notBuilt("paft run");
    }
}
