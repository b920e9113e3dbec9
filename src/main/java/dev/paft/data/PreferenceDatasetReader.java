package dev.paft.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.data.source.RecordSchema;
import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Reader of preference datasets in TRL's JSONL formats, producing prompt / chosen / rejected
 * token ids.
 *
 * <p>Formats:
 * <ul>
 *   <li>explicit {@code {"prompt", "chosen", "rejected"}}, all strings or all message lists;
 *   <li>implicit prompt (ultrafeedback_binarized): {@code chosen} and {@code rejected} are full
 *       conversations including the user turn; the prompt is their longest common prefix of
 *       messages and each completion the rest. Used when there is no {@code prompt}, or a string
 *       {@code prompt} beside conversational {@code chosen}/{@code rejected} (as TRL's
 *       {@code maybe_extract_prompt}).
 * </ul>
 * Strings: prompt ids = BOS + prompt, completion ids = completion + EOS (unless it already ends
 * with EOS). Message lists: the prompt is rendered with {@code add_generation_prompt=true}; a
 * completion is the text the full conversation adds after it, up to and including the end-of-turn
 * token of its last assistant message, and nothing is appended: the template's end-of-turn token
 * ({@code <|eot_id|>}, {@code <|im_end|>}, ...) is the stop token, exactly the tokens SFT trains on
 * for that assistant turn. This is TRL's rule (DPOTrainer and SFTTrainer append EOS to plain-text
 * data only). Other fields are ignored.
 *
 * <p>Truncation (TRL): when prompt + longer completion exceeds {@code maxLength}, the prompt
 * keeps its last {@code maxPromptLength} tokens; then completions keep their first
 * {@code maxLength - prompt} tokens. A pair whose prompt alone fills {@code maxLength} is
 * dropped and counted.
 */
public final class PreferenceDatasetReader {
    private final TextTokenizer tokenizer;
    private final ConversationEncoder conversations;
    private final PreferenceOptions options;
    private RecordSchema schema = RecordSchema.of(RecordSchema.Task.PREFERENCE);

    /** @param template the chat template, or {@code null} when only string formats are read */
    public PreferenceDatasetReader(TextTokenizer tokenizer, ChatTemplate template, PreferenceOptions options) {
        this.tokenizer = tokenizer;
        this.conversations = template == null ? null : new ConversationEncoder(tokenizer, template);
        this.options = options;
    }

    /** Column mapping for datasets of other schemas ({@code data.fields}: paft's name to the dataset's column). */
    public PreferenceDatasetReader fields(Map<String, String> fields) {
        this.schema = new RecordSchema(RecordSchema.Task.PREFERENCE, fields);
        return this;
    }

    /** Reads a dataset (any form of {@link dev.paft.data.source.DatasetFiles}) to truncated pairs and stats. */
    public PreferenceDataset read(Path file) {
        DatasetStats.Counter counter = new DatasetStats.Counter();
        List<PreferenceExample> out = new ArrayList<>();
        DatasetInput.forEach(file, schema, options.skipBadRecords(), counter, record -> {
            if (overBudget(record)) {
                counter.dropped++; // a conversation far beyond max_length: not rendered or tokenized
                return;
            }
            PreferenceExample pair = truncate(encode(record), counter);
            if (pair != null) {
                out.add(pair);
            }
        });
        DatasetStats stats = counter.toStats(file.toString(), out.size());
        if (out.isEmpty()) {
            throw PaftException.badInput(file + ": no usable preference pairs (" + stats + ")");
        }
        return new PreferenceDataset(out, stats);
    }

    /** One record to an untruncated pair; throws {@link BadRecordException} for bad records. */
    PreferenceExample encode(JsonNode record) {
        JsonNode chosen = record.get("chosen");
        JsonNode rejected = record.get("rejected");
        JsonNode prompt = record.get("prompt");
        if (chosen == null || rejected == null) {
            throw new BadRecordException("missing field '" + (chosen == null ? "chosen" : "rejected") + "'");
        }
        boolean conv = Conversations.isConversation(chosen);
        if (conv != Conversations.isConversation(rejected)) {
            throw new BadRecordException("'chosen' and 'rejected' must both be strings or both message lists");
        }
        if (!conv) {
            if (prompt == null) {
                throw new BadRecordException("missing field 'prompt' (string chosen/rejected need an explicit prompt)");
            }
            return encodeStrings(
                    JsonlReader.string(record, "prompt"),
                    JsonlReader.string(record, "chosen"),
                    JsonlReader.string(record, "rejected"));
        }
        List<ChatMessage> c = Conversations.messages(record, "chosen");
        List<ChatMessage> r = Conversations.messages(record, "rejected");
        if (prompt != null && Conversations.isConversation(prompt)) {
            return encodeConversations(Conversations.messages(record, "prompt"), c, r);
        }
        // Implicit prompt: the longest common prefix of the two conversations.
        int lcp = Conversations.commonPrefix(c, r);
        if (lcp == 0) {
            throw new BadRecordException("'chosen' and 'rejected' share no leading messages to use as the prompt");
        }
        if (lcp == c.size() || lcp == r.size()) {
            throw new BadRecordException("'chosen' or 'rejected' has no messages after the shared prompt");
        }
        return encodeConversations(c.subList(0, lcp), c.subList(lcp, c.size()), r.subList(lcp, r.size()));
    }

    /**
     * Plain strings: prompt ids = BOS + prompt, completion ids = completion + EOS. Long strings are tokenized
     * through {@link RecordBudget} windows (the prompt's end, the completions' starts), which keep what
     * {@link #truncate} keeps.
     */
    public PreferenceExample encodeStrings(String prompt, String chosen, String rejected) {
        int max = options.maxLength();
        return new PreferenceExample(
                RecordBudget.tail(tokenizer, prompt, max, true),
                withEos(RecordBudget.head(tokenizer, chosen, max, false)),
                withEos(RecordBudget.head(tokenizer, rejected, max, false)));
    }

    /** A conversational record with more characters than {@link RecordBudget#ceiling}. */
    private boolean overBudget(JsonNode record) {
        if (!Conversations.isConversation(record.get("chosen"))) {
            return false;
        }
        long limit = RecordBudget.ceiling(options.maxLength());
        return RecordBudget.chars(record, limit) > limit;
    }

    /** Message lists: prompt rendered with the generation prompt, completions the text after it. */
    public PreferenceExample encodeConversations(
            List<ChatMessage> prompt, List<ChatMessage> chosen, List<ChatMessage> rejected) {
        if (conversations == null) {
            throw PaftException.usage("conversational data needs a chat template, and " + tokenizer.source()
                    + " has none: give one with a template override");
        }
        String promptText = conversations.template().render(prompt, true);
        return new PreferenceExample(
                tokenizer.encodeStart(promptText),
                completion(prompt, chosen, promptText),
                completion(prompt, rejected, promptText));
    }

    private int[] completion(List<ChatMessage> prompt, List<ChatMessage> completion, String promptText) {
        List<ChatMessage> all = new ArrayList<>(prompt);
        all.addAll(completion);
        String full = conversations.template().render(all, false);
        int start = Conversations.commonPrefix(promptText, full);
        int end = full.length();
        for (int i = all.size() - 1; i >= prompt.size(); i--) {
            if (all.get(i).isAssistant()) {
                end = Math.max(start, conversations.assistantSpan(all, i, full)[1]);
                break;
            }
        }
        // No EOS: the chat template's end-of-turn token ends the completion (TRL; SFT trains the same tokens).
        return tokenizer.encode(full.substring(start, end));
    }

    /** TRL truncation; null when the prompt alone fills {@code maxLength} (counted as dropped). */
    PreferenceExample truncate(PreferenceExample pair, DatasetStats.Counter counter) {
        int max = options.maxLength();
        int[] p = pair.promptIds();
        int[] c = pair.chosenIds();
        int[] r = pair.rejectedIds();
        int longer = Math.max(c.length, r.length);
        boolean cut = false;
        if (p.length + longer > max && p.length > options.maxPromptLength()) {
            p = Arrays.copyOfRange(p, p.length - options.maxPromptLength(), p.length); // keep the end
            cut = true;
        }
        if (p.length >= max) {
            counter.dropped++;
            return null;
        }
        if (p.length + longer > max) {
            int room = max - p.length; // keep the start of each completion
            c = Arrays.copyOf(c, Math.min(c.length, room));
            r = Arrays.copyOf(r, Math.min(r.length, room));
            cut = true;
        }
        if (cut) {
            counter.truncated++;
            return new PreferenceExample(p, c, r);
        }
        return pair;
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
