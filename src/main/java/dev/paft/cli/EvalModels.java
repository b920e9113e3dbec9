package dev.paft.cli;

import ai.djl.Device;
import dev.paft.config.PaftConfig;
import dev.paft.eval.EvalModel;
import java.nio.file.Path;

/** Loads the model that {@link ModelOptions} and the resolved config name (kept apart so option parsing loads no DJL class). */
final class EvalModels {
    private EvalModels() {}

    static EvalModel open(ModelOptions o, PaftConfig cfg, Device device) {
        Path tokDir =
                cfg.model().tokenizer() == null ? null : Path.of(cfg.model().tokenizer());
        return EvalModel.open(
                ModelOptions.modelDir(cfg),
                o.adapter,
                tokDir,
                device,
                cfg.model().dtype());
    }
}
