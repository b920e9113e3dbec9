package dev.paft.data;

import dev.paft.data.template.ChatTemplate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Conversations to token ids with the token range of each assistant turn, found by rendering
 * the chat template over prefixes of the conversation.
 *
 * <p>Assistant turn {@code i} of the full rendering {@code full = render(messages, false)}:
 * <ul>
 *   <li>starts where {@code render(messages[0..i), add_generation_prompt=true)} stops agreeing
 *       with {@code full}, so the assistant header is prompt, not completion;
 *   <li>ends after the first end-of-turn token written after the message content (the EOS
 *       string or another added token of {@code tokenizer_config.json}, e.g. {@code </s>},
 *       {@code <|eot_id|>}, {@code <|im_end|>}), within the text {@code render(messages[0..i],
 *       false)} shares with {@code full}; with no such token, at the end of that shared text,
 *       less trailing whitespace.
 * </ul>
 * Character positions become token positions by counting the tokens of the text before them,
 * which is exact whenever tokenization does not merge across the boundary (boundaries sit next
 * to special tokens and turn headers).
 */
final class ConversationEncoder {
    private final TextTokenizer tokenizer;
    private final ChatTemplate template;
    private final List<String> turnEnds;

    ConversationEncoder(TextTokenizer tokenizer, ChatTemplate template) {
        this.tokenizer = tokenizer;
        this.template = template;
        this.turnEnds = turnEnds(tokenizer.config());
    }

    ChatTemplate template() {
        return template;
    }

    /** A rendered and tokenized conversation. */
    record Encoded(String text, int[] ids, boolean bosAdded) {}

    Encoded encode(List<ChatMessage> messages) {
        String full = template.render(messages, false);
        return new Encoded(full, tokenizer.encodeStart(full), tokenizer.needsBos(full));
    }

    /** Character span {@code [start, end)} of assistant message {@code i} in {@code full}. */
    int[] assistantSpan(List<ChatMessage> messages, int i, String full) {
        return assistantSpan(template, turnEnds, messages, i, full);
    }

    /** The end-of-turn strings of a tokenizer config: EOS and the added tokens but BOS/UNK/PAD. */
    static List<String> turnEnds(TokenizerConfig cfg) {
        Set<String> ends = new HashSet<>();
        if (cfg.eosToken() != null) {
            ends.add(cfg.eosToken());
        }
        ends.addAll(cfg.addedTokens().keySet());
        ends.remove(cfg.bosToken());
        ends.remove(cfg.unkToken());
        if (cfg.padToken() != null && !cfg.padToken().equals(cfg.eosToken())) {
            ends.remove(cfg.padToken());
        }
        ends.removeIf(String::isEmpty);
        return new ArrayList<>(ends);
    }

    /**
     * Character span {@code [start, end)} of assistant message {@code i} in
     * {@code full = template.render(messages, false)}, as described in the class comment.
     */
    static int[] assistantSpan(
            ChatTemplate template, List<String> turnEnds, List<ChatMessage> messages, int i, String full) {
        String before = template.render(messages.subList(0, i), true);
        String upTo = template.render(messages.subList(0, i + 1), false);
        int start = Conversations.commonPrefix(before, full);
        int shared = Conversations.commonPrefix(upTo, full);
        if (shared <= start) {
            return new int[] {start, start};
        }
        // Look for the end-of-turn token after the content.
        String content = messages.get(i).content().strip();
        int from = start;
        if (!content.isEmpty()) {
            int at = full.indexOf(content, start);
            if (at >= 0 && at + content.length() <= shared) {
                from = at + content.length();
            }
        }
        int best = -1;
        for (String end : turnEnds) {
            int at = full.indexOf(end, from);
            if (at >= 0 && at + end.length() <= shared && (best < 0 || at + end.length() < best)) {
                best = at + end.length();
            }
        }
        if (best >= 0) {
            return new int[] {start, best};
        }
        int end = shared;
        while (end > start && Character.isWhitespace(full.charAt(end - 1))) {
            end--;
        }
        return new int[] {start, end};
    }

    /** Number of tokens of {@code text[0, charPos)} in a sequence that starts like {@code enc}. */
    int tokensBefore(Encoded enc, int charPos) {
        int bos = enc.bosAdded() ? 1 : 0;
        int n = charPos == 0 ? 0 : tokenizer.encode(enc.text().substring(0, charPos)).length;
        return Math.min(n + bos, enc.ids().length);
    }

    /** Token range {@code [from, to)} of a character span. */
    int[] tokenRange(Encoded enc, int[] charSpan) {
        int from = tokensBefore(enc, charSpan[0]);
        int to = charSpan[1] == enc.text().length() ? enc.ids().length : tokensBefore(enc, charSpan[1]);
        return new int[] {from, Math.max(from, to)};
    }
}
