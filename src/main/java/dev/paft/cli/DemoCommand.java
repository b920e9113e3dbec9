package dev.paft.cli;

import dev.paft.errors.PaftException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code paft demo}: PAFT end to end on the bundled tiny model, on CPU, in minutes. */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "PAFT end to end on the bundled tiny model, on CPU, in minutes.")
public final class DemoCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        throw PaftException.notBuilt("paft demo");
    }
}
