package dev.paft.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import java.io.IOException;
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
        if (!Files.isRegularFile(file)) {
            return empty();
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw PaftException.badInput(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw PaftException.badInput(file + ": expected a JSON object");
        }
        return parse(root, file.toString());
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
                    throw PaftException.badInput(source + ": added_tokens_decoder key '" + e.getKey()
                            + "' is not a token id");
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
                if ("default".equals(t.path("name").asText()) && t.path("template").isTextual()) {
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
