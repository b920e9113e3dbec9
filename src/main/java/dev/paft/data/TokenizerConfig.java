package dev.paft.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The parts of a Hugging Face {@code tokenizer_config.json} that paft uses: special token
 * strings, {@code add_bos_token}/{@code add_eos_token}, the {@code chat_template} and the
 * {@code added_tokens_decoder} id table.
 *
 * <p>The chat template follows transformers' precedence: {@code chat_template.jinja} beside the
 * config, when present, wins over the config's {@code chat_template} entry (a string, or the
 * {@code "default"} of a list of named templates). Named templates in
 * {@code additional_chat_templates/} are not read: paft always uses the default template.
 *
 * <p>Special tokens may be written as plain strings or as {@code {"content": "<s>", ...}}
 * objects; both are read to their content string. Absent or {@code null} tokens are
 * {@code null} here.
 *
 * @param specialTokens every top-level {@code *_token} entry with a string value, by key
 *     ({@code bos_token -> "<s>"}), passed to chat templates
 * @param addBosToken {@code add_bos_token}, or {@code null} when the file does not say
 * @param addedTokens {@code added_tokens_decoder}: token content to id
 */
public record TokenizerConfig(
        String bosToken,
        String eosToken,
        String padToken,
        String unkToken,
        Boolean addBosToken,
        Boolean addEosToken,
        String chatTemplate,
        Map<String, String> specialTokens,
        Map<String, Integer> addedTokens) {

    public static final String FILE_NAME = "tokenizer_config.json";
    /** The template file recent tokenizers save beside {@link #FILE_NAME} (transformers >= 4.47). */
    public static final String JINJA_FILE_NAME = "chat_template.jinja";

    /** A config with no special tokens and no template (for directories without the file). */
    public static TokenizerConfig empty() {
        return new TokenizerConfig(null, null, null, null, null, null, null, Map.of(), Map.of());
    }

    /**
     * Reads {@code tokenizer_config.json} from a model or tokenizer directory (or the file
     * itself); a directory without the file gives {@link #empty()}.
     */
    public static TokenizerConfig read(Path dirOrFile) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve(FILE_NAME) : dirOrFile;
        Path jinja = jinjaTemplate(dirOrFile);
        String fileTemplate = jinja == null ? null : readTemplate(jinja);
        if (!Files.isRegularFile(file)) {
            return fileTemplate == null ? empty() : empty().withChatTemplate(fileTemplate);
        }
        JsonNode root;
        try {
            root = Mappers.json().readTree(file.toFile());
        } catch (IOException e) {
            throw PaftException.badInput(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw PaftException.badInput(file + ": expected a JSON object");
        }
        TokenizerConfig cfg = parse(root, file.toString());
        return fileTemplate == null ? cfg : cfg.withChatTemplate(fileTemplate);
    }

    /**
     * {@code chat_template.jinja} beside {@code tokenizer_config.json} (of a directory, or of the
     * config file given), or null. As in transformers' tokenizer loading, this file, when present,
     * replaces whatever {@code chat_template} the config holds.
     */
    public static Path jinjaTemplate(Path dirOrFile) {
        Path dir = Files.isDirectory(dirOrFile)
                ? dirOrFile
                : Files.isRegularFile(dirOrFile) ? dirOrFile.toAbsolutePath().getParent() : null;
        Path f = dir == null ? null : dir.resolve(JINJA_FILE_NAME);
        return f != null && Files.isRegularFile(f) ? f : null;
    }

    private static String readTemplate(Path jinja) {
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .decode(ByteBuffer.wrap(Files.readAllBytes(jinja)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw PaftException.badInput(jinja + ": not valid UTF-8", e);
        } catch (IOException e) {
            throw PaftException.badInput(jinja + ": cannot read: " + e.getMessage(), e);
        }
    }

    private TokenizerConfig withChatTemplate(String template) {
        return new TokenizerConfig(
                bosToken, eosToken, padToken, unkToken, addBosToken, addEosToken, template, specialTokens, addedTokens);
    }

    static TokenizerConfig parse(JsonNode root, String source) {
        Map<String, String> special = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().endsWith("_token")) {
                String s = tokenContent(e.getValue());
                if (s != null) {
                    special.put(e.getKey(), s);
                }
            }
        }
        Map<String, Integer> added = new LinkedHashMap<>();
        JsonNode dec = root.get("added_tokens_decoder");
        if (dec != null && dec.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = dec.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String content = tokenContent(e.getValue());
                try {
                    if (content != null) {
                        added.put(content, Integer.parseInt(e.getKey()));
                    }
                } catch (NumberFormatException ex) {
                    throw PaftException.badInput(
                            source + ": added_tokens_decoder key '" + e.getKey() + "' is not a token id");
                }
            }
        }
        JsonNode tmpl = root.get("chat_template");
        String template = null;
        if (tmpl != null && tmpl.isTextual()) {
            template = tmpl.asText();
        } else if (tmpl != null && tmpl.isArray()) {
            // Newer configs may hold a list of {"name", "template"}; take "default".
            for (JsonNode t : tmpl) {
                if ("default".equals(t.path("name").asText())
                        && t.path("template").isTextual()) {
                    template = t.get("template").asText();
                }
            }
        }
        return new TokenizerConfig(
                special.get("bos_token"),
                special.get("eos_token"),
                special.get("pad_token"),
                special.get("unk_token"),
                bool(root.get("add_bos_token")),
                bool(root.get("add_eos_token")),
                template,
                Collections.unmodifiableMap(special),
                Collections.unmodifiableMap(added));
    }

    /** A token written as {@code "<s>"} or {@code {"content": "<s>"}}; null otherwise. */
    static String tokenContent(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isObject() && node.path("content").isTextual()) {
            return node.get("content").asText();
        }
        return null;
    }

    private static Boolean bool(JsonNode node) {
        return node != null && node.isBoolean() ? node.asBoolean() : null;
    }
}
