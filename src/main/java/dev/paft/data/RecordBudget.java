package dev.paft.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;

/**
 * Bounded work per record where only {@code max_length} tokens of it are kept (no packing): strings are
 * tokenized through a character window instead of whole, and conversations far longer than anything
 * that could be kept are dropped before they are rendered or tokenized.
 *
 * <p>Windows: the first (or last) {@code W = 16 * (n + 64)} characters are tokenized, and the result is
 * used when it holds at least {@code n + 64} tokens; otherwise the window grows 4x (up to the whole
 * string). Tokenizers are local (a token depends only on the characters near it), so the first
 * {@code n} tokens of a head window (the last {@code n} of a tail window) are those of the whole string:
 * the 64 spare tokens absorb the word cut at the window's edge. A 10 MB record with
 * {@code max_length} 1024 costs about 17 k characters of tokenization instead of 10 M, once.
 */
final class RecordBudget {
    /** Tokens beyond the needed ones that a window must hold, absorbing the cut at its edge. */
    static final int SPARE_TOKENS = 64;
    /** Characters per needed token in the first window (English averages about 4). */
    static final int WINDOW_CHARS_PER_TOKEN = 16;
    /** Conversations of more than this many characters per {@code max_length} token are dropped unread. */
    static final long CEILING_CHARS_PER_TOKEN = 64;

    private RecordBudget() {}

    /**
     * The token ids of {@code text} ({@link TextTokenizer#encodeStart} when {@code start}, else
     * {@link TextTokenizer#encode}), exact in their first {@code need} tokens; when the text is cut, more
     * than {@code need} tokens come back, so a caller that keeps {@code need} sees the truncation.
     */
    static int[] head(TextTokenizer tok, String text, int need, boolean start) {
        long window = (long) WINDOW_CHARS_PER_TOKEN * (need + SPARE_TOKENS);
        while (window < text.length()) {
            int end = (int) window;
            if (Character.isHighSurrogate(text.charAt(end - 1))) {
                end--; // keep a surrogate pair whole
            }
            String cut = text.substring(0, end);
            int[] ids = start ? tok.encodeStart(cut) : tok.encode(cut);
            if (ids.length >= need + SPARE_TOKENS) {
                return ids;
            }
            window *= 4;
        }
        return start ? tok.encodeStart(text) : tok.encode(text);
    }

    /**
     * The token ids of {@code text} as {@link #head}, exact in their last {@code need} tokens (for prompts,
     * which keep their end). A cut window starts mid-text, so its first tokens (and no BOS) are not the whole
     * string's: callers keep only the last {@code need}.
     */
    static int[] tail(TextTokenizer tok, String text, int need, boolean start) {
        long window = (long) WINDOW_CHARS_PER_TOKEN * (need + SPARE_TOKENS);
        while (window < text.length()) {
            int from = text.length() - (int) window;
            if (Character.isLowSurrogate(text.charAt(from))) {
                from++;
            }
            int[] ids = tok.encode(text.substring(from));
            if (ids.length >= need + SPARE_TOKENS) {
                return ids;
            }
            window *= 4;
        }
        return start ? tok.encodeStart(text) : tok.encode(text);
    }

    /** Most characters a record's strings may hold when {@code maxLength} tokens of it are kept. */
    static long ceiling(int maxLength) {
        return Math.max(1L << 16, CEILING_CHARS_PER_TOKEN * maxLength);
    }

    /** Characters in all string values of a JSON value (a record, a message list), stopping once past {@code limit}. */
    static long chars(JsonNode node, long limit) {
        if (node == null) {
            return 0;
        }
        if (node.isTextual()) {
            return node.asText().length();
        }
        long n = 0;
        for (Iterator<JsonNode> it = node.elements(); it.hasNext() && n <= limit; ) {
            n += chars(it.next(), limit - n);
        }
        return n;
    }
}
