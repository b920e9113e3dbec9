package dev.paft.cli;

import dev.paft.errors.PaftException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code paft eval}: Evaluate a model: log-likelihood, perplexity, preference accuracy, multiple choice. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluate a model: log-likelihood, perplexity, preference accuracy, multiple choice.")
public final class EvalCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        throw PaftException.notBuilt("paft eval");
    }
}
