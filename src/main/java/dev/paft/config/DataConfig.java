package dev.paft.config;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Training data.
 *
 * @param train dataset file, glob or directory of training records (docs/USER-GUIDE.md, "Datasets")
 * @param eval optional held-out dataset, same forms
 * @param split split of {@code train} when it is a directory of several; null: train, or its only split
 * @param evalSplit split of {@code eval}; null: test, validation, valid, eval, dev, or its only split
 * @param format auto (from the record's fields), messages, prompt_completion, text, preference
 * @param chatTemplate Jinja template string or file overriding the tokenizer's ({@code chat_template.jinja}, else {@code tokenizer_config.json}'s)
 * @param fields column mapping for datasets of other schemas
 */
public record DataConfig(
        String train,
        String eval,
        String split,
        String evalSplit,
        DataFormat format,
        int maxLength,
        int maxPromptLength,
        String chatTemplate,
        boolean trainOnPrompt,
        boolean packing,
        boolean skipBadRecords,
        Fields fields) {
    void validate(Validator v) {
        v.required("data.format", format, DataFormat.class);
        v.check("data.max_length", maxLength >= 2, "must be >= 2", maxLength);
        v.check("data.max_prompt_length", maxPromptLength >= 1, "must be >= 1", maxPromptLength);
    }

    /**
     * {@code data.fields}: which column of the dataset holds each of paft's fields (null: the
     * field's own name). {@code role}/{@code content} name the keys inside message lists.
     */
    public record Fields(
            String messages,
            String prompt,
            String completion,
            String text,
            String chosen,
            String rejected,
            String system,
            String instruction,
            String input,
            String output,
            String role,
            String content) {
        /** paft's field names, in declaration order: the keys {@code data.fields} may map. */
        public static final List<String> NAMES = Arrays.stream(Fields.class.getRecordComponents())
                .map(RecordComponent::getName)
                .toList();

        /** The set mappings, paft's name to the column. */
        public Map<String, String> asMap() {
            Map<String, String> m = new LinkedHashMap<>();
            for (RecordComponent c : Fields.class.getRecordComponents()) {
                try {
                    Object v = c.getAccessor().invoke(this);
                    if (v != null) {
                        m.put(c.getName(), (String) v);
                    }
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(e);
                }
            }
            return m;
        }
    }
}
