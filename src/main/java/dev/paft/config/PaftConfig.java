package dev.paft.config;

/**
 * Every setting of paft, one section per concern. One file may hold the sections of several
 * commands; each command reads the ones it needs. Loaded by {@link ConfigLoader}.
 */
public record PaftConfig(ModelConfig model, LoraConfig lora, DataConfig data, TrainingConfig training,
                         SftConfig sft, PreferenceConfig preference, MergeConfig merge, RunConfig run) {

    void validate(Validator v) {
        model.validate(v);
        lora.validate(v);
        data.validate(v);
        training.validate(v);
        sft.validate(v);
        preference.validate(v);
        merge.validate(v);
        run.validate(v);
    }
}
