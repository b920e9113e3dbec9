package dev.paft.cli;

import dev.paft.errors.PaftException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code paft train-sft}: LoRA supervised fine-tuning with the L1 sparsity penalty (PAFT eq. 1). */
@Command(name = "train-sft", mixinStandardHelpOptions = true, description = "LoRA supervised fine-tuning with the L1 sparsity penalty (PAFT eq. 1).")
public final class TrainSftCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        throw PaftException.notBuilt("paft train-sft");
    }
}
