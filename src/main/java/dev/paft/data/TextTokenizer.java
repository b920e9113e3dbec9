package dev.paft.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A Hugging Face fast tokenizer ({@code tokenizer.json}, via DJL) with the special-token ids of
 * its {@code tokenizer_config.json}: text to token ids and back, loaded offline.
 *
 * <p>{@link #encode} never adds special tokens: text rendered by a chat template already holds
 * them literally (Llama-3's {@code <|begin_of_text|>}, zephyr's {@code </s>}), and they are
 * matched as added tokens. {@link #encodeStart} adds the BOS id the tokenizer would add, unless
 * the text already begins with the BOS string, so a sequence never starts with two BOS.
 *
 * <p>Pad id: {@code pad_token} when set, else the EOS id (Llama has no pad token; padded
 * positions are masked out, so the id only has to be valid).
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final TokenizerConfig config;
    private final Path source;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final boolean addsBos;
    /** The model's vocab_size: {@link #encode} refuses ids at or above it. */
    private int vocabLimit = Integer.MAX_VALUE;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, TokenizerConfig config, Path source) {
        this.tokenizer = tokenizer;
        this.config = config;
        this.source = source;
        this.bosId = config.bosToken() == null ? -1 : tokenId(config.bosToken());
        this.eosId = config.eosToken() == null ? -1 : tokenId(config.eosToken());
        int pad = config.padToken() == null ? -1 : tokenId(config.padToken());
        this.padId = pad >= 0 ? pad : eosId;
        if (config.addBosToken() != null) {
            this.addsBos = config.addBosToken() && bosId >= 0;
        } else {
            // No add_bos_token in the config: do what tokenizer.json's post-processor does.
            long[] ids = tokenizer.encode("", true, false).getIds();
            this.addsBos = bosId >= 0 && ids.length > 0 && ids[0] == bosId;
        }
    }

    /**
     * Opens the tokenizer of a model or tokenizer directory ({@code tokenizer.json} and, when
     * present, {@code tokenizer_config.json}). Nothing is downloaded.
     *
     * @throws PaftException bad input when {@code tokenizer.json} is missing or unreadable
     */
    public static TextTokenizer open(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw PaftException.badInput(dir + ": no tokenizer.json");
        }
        TokenizerConfig config = TokenizerConfig.read(dir);
        HuggingFaceTokenizer tok;
        try {
            tok = HuggingFaceTokenizer.newInstance(
                    file, Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        } catch (IOException | RuntimeException e) {
            throw PaftException.badInput(file + ": cannot load tokenizer: " + e.getMessage(), e);
        }
        return new TextTokenizer(tok, config, dir);
    }

    /** As {@link #open(Path)}, for a model of {@code vocabSize} tokens (see {@link #limitIds}). */
    public static TextTokenizer open(Path dir, int vocabSize) {
        TextTokenizer t = open(dir);
        t.limitIds(vocabSize);
        return t;
    }

    /**
     * Binds this tokenizer to a model with {@code vocabSize} embedding rows: its special-token ids must be
     * below it, and {@link #encode} refuses text that encodes to an id at or above it (bad input, exit 3,
     * naming the token and both sizes) instead of letting the embedding lookup fail.
     */
    public TextTokenizer limitIds(int vocabSize) {
        int max = Math.max(padId, Math.max(bosId, eosId));
        if (max >= vocabSize) {
            throw PaftException.badInput(
                    source + ": tokenizer special token id " + max + " is outside the model's vocab_size " + vocabSize);
        }
        this.vocabLimit = vocabSize;
        return this;
    }

    /** Token ids of text, with no special tokens added (those written in the text are kept). */
    public int[] encode(String text) {
        Encoding e = tokenizer.encode(text, false, false);
        int[] ids = toInts(e.getIds());
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] >= vocabLimit) {
                throw PaftException.badInput(source + ": token '" + e.getTokens()[i] + "' has id " + ids[i]
                        + ", outside the model's vocab_size " + vocabLimit + " (tokenizer and model do not match)");
            }
        }
        return ids;
    }

    /**
     * Token ids of the start of a sequence: {@link #encode} with the BOS id first when the
     * tokenizer adds one and the text does not already begin with the BOS string.
     */
    public int[] encodeStart(String text) {
        int[] ids = encode(text);
        if (!needsBos(text)) {
            return ids;
        }
        int[] out = new int[ids.length + 1];
        out[0] = bosId;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** Whether {@link #encodeStart} would prepend BOS to this text. */
    public boolean needsBos(String text) {
        return addsBos && !(config.bosToken() != null && text.startsWith(config.bosToken()));
    }

    /** Text of token ids; special tokens are written out unless skipped. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, skipSpecialTokens);
    }

    /** Text of token ids with special tokens written out. */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * The id of one token string: from {@code added_tokens_decoder}, else the text when it
     * encodes to exactly one id; -1 when it is not a single token.
     */
    public int tokenId(String token) {
        Integer id = config.addedTokens().get(token);
        if (id != null) {
            return id;
        }
        Encoding e = tokenizer.encode(token, false, false);
        long[] ids = e.getIds();
        if (ids.length == 1) {
            return (int) ids[0];
        }
        // SentencePiece-style tokenizers prepend a word marker; a special token is the last piece.
        if (ids.length == 2 && e.getTokens()[1].equals(token)) {
            return (int) ids[1];
        }
        return -1;
    }

    /** BOS id, or -1 when the tokenizer has none. */
    public int bosId() {
        return bosId;
    }

    /** EOS id, or -1 when the tokenizer has none. */
    public int eosId() {
        return eosId;
    }

    /** Pad id: the pad token, else EOS. */
    public int padId() {
        return padId;
    }

    /** Whether sequences start with BOS ({@code add_bos_token}, else the post-processor's). */
    public boolean addsBos() {
        return addsBos;
    }

    /** The EOS token string, or null. */
    public String eosToken() {
        return config.eosToken();
    }

    /** The BOS token string, or null. */
    public String bosToken() {
        return config.bosToken();
    }

    public TokenizerConfig config() {
        return config;
    }

    /** The directory the tokenizer was loaded from. */
    public Path source() {
        return source;
    }

    /** EOS id, or a bad-input error naming the tokenizer when it has none. */
    public int requireEos() {
        if (eosId < 0) {
            throw PaftException.badInput(source + ": tokenizer has no eos_token; it is needed to end sequences");
        }
        return eosId;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }
}
