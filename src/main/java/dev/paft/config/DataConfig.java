package dev.paft.config;

/**
 * Training data.
 *
 * @param train JSONL file of training records (TRL formats)
 * @param eval optional held-out JSONL file
 * @param format auto (from the record's fields), messages, prompt_completion, text, preference
 * @param chatTemplate Jinja template string or file overriding the tokenizer's ({@code chat_template.jinja}, else {@code tokenizer_config.json}'s)
 */
public record DataConfig(String train, String eval, String format, int maxLength, int maxPromptLength,
                         String chatTemplate, boolean trainOnPrompt, boolean packing, boolean skipBadRecords) {
    void validate(Validator v) {
        v.oneOf("data.format", format, "auto", "messages", "prompt_completion", "text", "preference");
        v.check("data.max_length", maxLength >= 2, "must be >= 2", maxLength);
        v.check("data.max_prompt_length", maxPromptLength >= 1, "must be >= 1", maxPromptLength);
    }
}
