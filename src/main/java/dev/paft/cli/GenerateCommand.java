package dev.paft.cli;

import dev.paft.errors.PaftException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code paft generate}: Generate text from a model (KV cache; greedy or sampling). */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text from a model (KV cache; greedy or sampling).")
public final class GenerateCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        throw PaftException.notBuilt("paft generate");
    }
}
