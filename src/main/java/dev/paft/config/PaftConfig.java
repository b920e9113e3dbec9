package dev.paft.config;

import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;

/**
 * Every setting of paft, one section per concern. One file may hold the sections of several
 * commands; each command reads the ones it needs. Loaded by {@link ConfigLoader}.
 */
public record PaftConfig(
        ModelConfig model,
        LoraConfig lora,
        DataConfig data,
        TrainingConfig training,
        SftConfig sft,
        PreferenceConfig preference,
        MergeConfig merge,
        RunConfig run) {

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

    /**
     * What train-sft needs beyond the ranges checked at load (exit 2): model.path,
     * training.output_dir and data.train set, and an SFT data.format.
     */
    public void requireSft() {
        requireTraining();
        if (!data.format().sft()) {
            throw PaftException.usage("data.format '" + Mappers.spelling(data.format())
                    + "' is not an SFT format (auto, messages, prompt_completion, text)");
        }
    }

    /**
     * What preference training needs beyond the ranges checked at load (exit 2): model.path,
     * training.output_dir and data.train set, a preference data.format, and room for a completion
     * after the prompt (data.max_prompt_length below data.max_length).
     */
    public void requirePreference() {
        requireTraining();
        if (!data.format().preference()) {
            throw PaftException.usage("data.format '" + Mappers.spelling(data.format())
                    + "' is not a preference format (auto, preference)");
        }
        if (data.maxPromptLength() >= data.maxLength()) {
            throw PaftException.usage("data.max_prompt_length (" + data.maxPromptLength()
                    + ") must be below data.max_length (" + data.maxLength() + ") for preference training");
        }
    }

    private void requireTraining() {
        require(model.path(), "model.path");
        require(training.outputDir(), "training.output_dir");
        require(data.train(), "data.train");
    }

    /** A key a command needs: exit 2 when it is unset or blank. */
    public static String require(String value, String key) {
        if (value == null || value.isBlank()) {
            throw PaftException.usage(key + " is required (set it in the config or with its flag)");
        }
        return value;
    }
}
