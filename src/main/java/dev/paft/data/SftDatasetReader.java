package dev.paft.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.config.DataFormat;
import dev.paft.data.source.RecordSchema;
import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reader of SFT datasets in TRL's JSONL formats, producing token ids with label masks.
 *
 * <p>Formats, one per record (first match wins):
 * <ul>
 *   <li>{@code {"messages": [{"role", "content"}, ...]}}: rendered with the chat template; loss
 *       on every assistant turn (its content and end-of-turn token, see
 *       {@link ConversationEncoder}), not on system/user turns or assistant headers;
 *   <li>{@code {"prompt", "completion"}}: strings (text = prompt + completion + EOS, loss on
 *       completion + EOS) or message lists (prompt rendered with
 *       {@code add_generation_prompt=true}, loss on the assistant turns of the completion);
 *   <li>{@code {"text"}}: text + EOS, loss on every token.
 * </ul>
 * Other fields ({@code prompt_id}, ...) are ignored. A record that fits none, or has an
 * ill-typed field or unknown role, is a bad record: an error naming {@code file:line}, or
 * skipped and counted with {@link SftOptions#skipBadRecords()}.
 */
public final class SftDatasetReader {
    private final TextTokenizer tokenizer;
    private final ConversationEncoder conversations;
    private final SftOptions options;
    private RecordSchema schema = RecordSchema.of(RecordSchema.Task.SFT);

    /**
     * @param template the chat template, or {@code null} when only string formats are read
     */
    public SftDatasetReader(TextTokenizer tokenizer, ChatTemplate template, SftOptions options) {
        this.tokenizer = tokenizer;
        this.conversations = template == null ? null : new ConversationEncoder(tokenizer, template);
        this.options = options;
    }

    /** Column mapping for datasets of other schemas ({@code data.fields}: paft's name to the dataset's column). */
    public SftDatasetReader fields(Map<String, String> fields) {
        this.schema = new RecordSchema(RecordSchema.Task.SFT, fields);
        return this;
    }

    /** Reads a dataset (any form of {@link dev.paft.data.source.DatasetFiles}) to examples (truncated or packed to {@code maxLength}) and stats. */
    public SftDataset read(Path file) {
        DatasetStats.Counter counter = new DatasetStats.Counter();
        List<SftExample> raw = new ArrayList<>();
        DatasetInput.forEach(file, schema, options.skipBadRecords(), counter, record -> {
            if (overBudget(record)) {
                counter.dropped++; // a conversation far beyond max_length: not rendered or tokenized
            } else {
                raw.add(encode(record));
            }
        });
        List<SftExample> out;
        if (options.packing()) {
            out = Packing.pack(raw, options.maxLength(), tokenizer.requireEos());
        } else {
            out = new ArrayList<>(raw.size());
            for (SftExample e : raw) {
                boolean cut = e.length() > options.maxLength();
                SftExample t = !cut
                        ? e
                        : new SftExample(
                                Arrays.copyOf(e.inputIds(), options.maxLength()),
                                Arrays.copyOf(e.labels(), options.maxLength())); // keep the start
                if (t.trainedTokens() == 0) {
                    counter.dropped++; // nothing left to learn from
                } else {
                    counter.truncated += cut ? 1 : 0;
                    out.add(t);
                }
            }
        }
        DatasetStats stats = counter.toStats(file.toString(), out.size());
        if (out.isEmpty()) {
            throw PaftException.badInput(file + ": no usable examples (" + stats + ")");
        }
        return new SftDataset(out, stats);
    }

    /**
     * Restricts records to one format ({@code messages}, {@code prompt_completion} or {@code text});
     * {@code auto} (the default) takes whichever fields a record has. The config checks that
     * {@code data.format} is an SFT format ({@link dev.paft.config.PaftConfig#requireSft()}).
     */
    public SftDatasetReader requireFormat(DataFormat format) {
        if (!format.sft()) {
            throw new IllegalArgumentException(format + " is not an SFT format");
        }
        this.format = format;
        return this;
    }

    private DataFormat format = DataFormat.AUTO;

    /** One record to an (untruncated) example; throws {@link BadRecordException} for bad records. */
    SftExample encode(JsonNode record) {
        switch (format) {
            case MESSAGES -> {
                if (!record.has("messages"))
                    throw new BadRecordException("data.format is messages but the record has no 'messages'");
            }
            case PROMPT_COMPLETION -> {
                if (!record.has("prompt") || !record.has("completion"))
                    throw new BadRecordException(
                            "data.format is prompt_completion but the record lacks 'prompt' or 'completion'");
            }
            case TEXT -> {
                if (!record.has("text"))
                    throw new BadRecordException("data.format is text but the record has no 'text'");
            }
            default -> {}
        }
        if (record.has("messages")) {
            return encodeMessages(Conversations.messages(record, "messages"), 0);
        }
        if (record.has("prompt") && record.has("completion")) {
            JsonNode p = record.get("prompt");
            JsonNode c = record.get("completion");
            if (Conversations.isConversation(p) && Conversations.isConversation(c)) {
                List<ChatMessage> prompt = Conversations.messages(record, "prompt");
                List<ChatMessage> all = new ArrayList<>(prompt);
                all.addAll(Conversations.messages(record, "completion"));
                return encodeMessages(all, prompt.size());
            }
            if (Conversations.isConversation(p) != Conversations.isConversation(c)) {
                throw new BadRecordException("'prompt' and 'completion' must both be strings or both message lists");
            }
            return encodePromptCompletion(
                    JsonlReader.string(record, "prompt"), JsonlReader.string(record, "completion"));
        }
        if (record.has("text")) {
            return encodeText(JsonlReader.string(record, "text"));
        }
        throw new BadRecordException("no 'messages', 'prompt'+'completion' or 'text' field");
    }

    /** A conversation; loss on assistant turns at index {@code firstTrainable} or later. */
    public SftExample encodeMessages(List<ChatMessage> messages, int firstTrainable) {
        if (conversations == null) {
            throw PaftException.usage("conversational data needs a chat template, and " + tokenizer.source()
                    + " has none: give one with a template override");
        }
        ConversationEncoder.Encoded enc = conversations.encode(messages);
        int[] ids = enc.ids();
        int[] labels = new int[ids.length];
        if (options.trainOnPrompt()) {
            System.arraycopy(ids, 0, labels, 0, ids.length);
            return new SftExample(ids, labels);
        }
        Arrays.fill(labels, SftExample.IGNORE);
        boolean any = false;
        for (int i = firstTrainable; i < messages.size(); i++) {
            if (messages.get(i).isAssistant()) {
                any = true;
                int[] range = conversations.tokenRange(enc, conversations.assistantSpan(messages, i, enc.text()));
                System.arraycopy(ids, range[0], labels, range[0], range[1] - range[0]);
            }
        }
        if (!any) {
            throw new BadRecordException("no assistant message to train on");
        }
        return new SftExample(ids, labels);
    }

    /**
     * A conversational record (no packing) with more characters than {@link RecordBudget#ceiling}: at least
     * 64 characters per token it could keep.
     */
    private boolean overBudget(JsonNode record) {
        if (options.packing() || !(record.has("messages") || Conversations.isConversation(record.get("prompt")))) {
            return false;
        }
        long limit = RecordBudget.ceiling(options.maxLength());
        return RecordBudget.chars(record, limit) > limit;
    }

    /** Token ids of a string (BOS first as the tokenizer adds it): exact in the first max_length unless packing. */
    private int[] head(String text) {
        return options.packing()
                ? tokenizer.encodeStart(text)
                : RecordBudget.head(tokenizer, text, options.maxLength(), true);
    }

    /** Plain strings: prompt + completion + EOS, loss on the completion and EOS. */
    public SftExample encodePromptCompletion(String prompt, String completion) {
        int promptTokens = head(prompt).length;
        int[] ids = withEos(head(prompt + completion));
        int[] labels = ids.clone();
        if (!options.trainOnPrompt()) {
            Arrays.fill(labels, 0, Math.min(promptTokens, ids.length), SftExample.IGNORE);
        }
        return new SftExample(ids, labels);
    }

    /** Plain text + EOS, loss on every token. */
    public SftExample encodeText(String text) {
        int[] ids = withEos(head(text));
        return new SftExample(ids, ids.clone());
    }

    private int[] withEos(int[] ids) {
        int eos = tokenizer.requireEos();
        if (ids.length > 0 && ids[ids.length - 1] == eos) {
            return ids;
        }
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eos;
        return out;
    }
}
