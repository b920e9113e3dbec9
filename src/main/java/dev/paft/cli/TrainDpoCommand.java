package dev.paft.cli;

import dev.paft.errors.PaftException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code paft train-dpo}: LoRA preference training: DPO (sigmoid, IPO, hinge) or ORPO. */
@Command(name = "train-dpo", mixinStandardHelpOptions = true, description = "LoRA preference training: DPO (sigmoid, IPO, hinge) or ORPO.")
public final class TrainDpoCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        throw PaftException.notBuilt("paft train-dpo");
    }
}
