package dev.paft.cli;

import dev.paft.train.Recipes;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** Flags shared by train-sft and train-dpo; each maps to a config key (flags win over the file). */
public final class TrainOptions {
    @Option(
            names = {"--model", "--model-name-or-path", "--model_name_or_path"},
            paramLabel = "DIR",
            description = "Base model directory.")
    @ConfigKey("model.path")
    Path model;

    @Option(
            names = "--train",
            paramLabel = "PATH",
            description = "Training data: JSONL, JSON, Parquet, Arrow file, glob or dataset directory.")
    @ConfigKey("data.train")
    Path train;

    @Option(names = "--eval", paramLabel = "PATH", description = "Held-out data, same forms.")
    @ConfigKey("data.eval")
    Path eval;

    @Option(names = "--split", paramLabel = "NAME", description = "Split of a --train directory holding several.")
    @ConfigKey("data.split")
    String split;

    @Option(names = "--eval-split", paramLabel = "NAME", description = "Split of an --eval directory holding several.")
    @ConfigKey("data.eval_split")
    String evalSplit;

    @Option(
            names = {"-o", "--output-dir", "--output_dir"},
            paramLabel = "DIR",
            description = "Output directory.")
    @ConfigKey("training.output_dir")
    Path outputDir;

    @Option(
            names = "--resume",
            arity = "0..1",
            paramLabel = "CHECKPOINT",
            fallbackValue = "",
            description = "Resume from the latest checkpoint in the output directory, or from CHECKPOINT.")
    String resume;

    @Option(
            names = "--accept-data-change",
            description =
                    "With --resume: continue although a training data file changed since the checkpoint (refused otherwise).")
    boolean acceptDataChange;

    @Option(
            names = "--overwrite",
            description =
                    "Replace the run in the output directory, once the new one finished (files paft did not write are never deleted).")
    boolean overwrite;

    @Option(
            names = "--dry-run",
            description =
                    "Validate config and data, print the plan (examples, tokens, steps, parameters, memory) and exit.")
    boolean dryRun;

    @Option(
            names = {"--max-steps", "--max_steps"},
            paramLabel = "N",
            description = "Optimizer steps.")
    @ConfigKey("training.max_steps")
    Integer maxSteps;

    @Option(
            names = {"--epochs", "--num-train-epochs", "--num_train_epochs"},
            paramLabel = "N",
            description = "Epochs when max_steps is -1.")
    @ConfigKey("training.epochs")
    Double epochs;

    @Option(
            names = {"--lr", "--learning-rate", "--learning_rate"},
            paramLabel = "LR",
            description = "Peak learning rate.")
    @ConfigKey("training.learning_rate")
    Double learningRate;

    @Option(
            names = {"--batch-size", "--per-device-train-batch-size", "--per_device_train_batch_size"},
            paramLabel = "N",
            description = "Micro-batch size.")
    @ConfigKey("training.batch_size")
    Integer batchSize;

    @Option(
            names = {"--grad-accum", "--gradient-accumulation-steps", "--gradient_accumulation_steps"},
            paramLabel = "N",
            description = "Micro-batches per step.")
    @ConfigKey("training.grad_accum")
    Integer gradAccum;

    @Option(
            names = {"--lora-r", "--lora_r"},
            paramLabel = "R",
            description = "LoRA rank.")
    @ConfigKey("lora.r")
    Integer loraR;

    @Option(
            names = {"--lora-alpha", "--lora_alpha"},
            paramLabel = "A",
            description = "LoRA alpha.")
    @ConfigKey("lora.alpha")
    Double loraAlpha;

    @Option(
            names = {"--lora-dropout", "--lora_dropout"},
            paramLabel = "P",
            description = "Dropout on the LoRA input.")
    @ConfigKey("lora.dropout")
    Double loraDropout;

    @Option(
            names = {"--lora-target-modules", "--lora_target_modules"},
            paramLabel = "M",
            split = ",",
            arity = "1..*",
            description = "Modules that get an adapter, comma- or space-separated.")
    @ConfigKey("lora.target_modules")
    List<String> loraTargetModules;

    @Option(
            names = {"--max-length", "--max_length", "--max-seq-length", "--max_seq_length"},
            paramLabel = "N",
            description = "Max tokens per sequence.")
    @ConfigKey("data.max_length")
    Integer maxLength;

    @Option(
            names = "--chat-template",
            paramLabel = "JINJA|FILE",
            description =
                    "Chat template overriding the tokenizer's: chat_template.jinja, else tokenizer_config.json's.")
    @ConfigKey("data.chat_template")
    String chatTemplate;

    @Option(names = "--skip-bad-records", description = "Skip and count malformed JSONL lines instead of failing.")
    @ConfigKey("data.skip_bad_records")
    Boolean skipBadRecords;

    @Option(
            names = "--gradient-checkpointing",
            negatable = true,
            paramLabel = "",
            description = "Recompute each decoder layer during backward instead of keeping its activations.")
    @ConfigKey("training.gradient_checkpointing")
    Boolean gradientCheckpointing;

    boolean resumeRequested() {
        return resume != null;
    }

    /** --resume, --overwrite and --dry-run as the recipes' options. */
    Recipes.Options recipeOptions() {
        return Recipes.Options.defaults()
                .withResume(resumeRequested())
                .withResumeFrom(resumeFrom())
                .withOverwrite(overwrite)
                .withDryRun(dryRun)
                .withAcceptDataChange(acceptDataChange);
    }

    Path resumeFrom() {
        return resume == null || resume.isEmpty() ? null : Path.of(resume);
    }
}
