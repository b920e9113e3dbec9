package dev.paft.cli;

import dev.paft.config.PaftConfig;
import dev.paft.errors.PaftException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The model a command scores or samples from: a model directory, an optional unmerged adapter, a
 * tokenizer; {@link EvalModels#open} loads it.
 */
public final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR", description = "Hugging Face model directory.")
    @ConfigKey("model.path")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT adapter directory, applied unmerged.")
    Path adapter;

    @Option(
            names = "--tokenizer",
            paramLabel = "DIR",
            description = "Tokenizer directory; default: the model's, else the adapter's.")
    @ConfigKey("model.tokenizer")
    Path tokenizer;

    /** The model directory of the resolved config; a usage error (exit 2) when none is given. */
    static Path modelDir(PaftConfig cfg) {
        if (cfg.model().path() == null) {
            throw PaftException.usage("no model: give --model DIR (or model.path in the config)");
        }
        return Path.of(cfg.model().path());
    }

    // No method here may mention a DJL type: picocli reflects over this class while parsing, and
    // `paft --help` must not load DJL (LauncherTest). Loading lives in EvalModels.
}
