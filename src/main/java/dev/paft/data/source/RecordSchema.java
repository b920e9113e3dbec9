package dev.paft.data.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.DataConfig;
import dev.paft.data.BadRecordException;
import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Maps the dataset schemas people have to the TRL-shaped records paft's readers take.
 *
 * <p>First the column mapping ({@code data.fields}) renames columns: {@code prompt: question}
 * takes the prompt from the column {@code question}; {@code role}/{@code content} name the keys
 * inside message lists. Columns that are null are treated as absent (Parquet and Arrow rows carry
 * every column). Then, for SFT (first match wins):
 * <ul>
 *   <li>{@code messages}: TRL's conversational form, kept;
 *   <li>{@code conversations}: ShareGPT, messages with {@code from}/{@code value} and the roles
 *       {@code human}, {@code gpt}, {@code system} (also {@code user}, {@code assistant},
 *       {@code model}, {@code tool}, {@code observation}, {@code function_call}), to {@code messages};
 *       a {@code system} column becomes the first message;
 *   <li>{@code prompt}+{@code completion} and {@code text}: kept;
 *   <li>{@code instruction}+{@code output} (Alpaca; {@code input}, {@code system}, {@code history}
 *       optional): prompt = system, history turns, user turn of instruction and input joined by a
 *       newline; completion = assistant turn of output.
 * </ul>
 * For preference data, {@code chosen}+{@code rejected} with the prompt from {@code prompt},
 * ShareGPT {@code conversations} (chosen/rejected may then be single messages), Alpaca
 * {@code instruction}/{@code input}, or none (implicit: the shared leading messages). A string
 * prompt beside message-list answers that hold no user turn becomes the user turn; string answers
 * beside a message-list prompt become assistant turns. Message lists may use {@code from}/{@code value}.
 * A record of no known schema is a {@link UnknownSchemaException}, naming the columns found and
 * the schemas expected.
 */
public final class RecordSchema {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** Keys {@code data.fields} may map. */
    public static final List<String> FIELDS = DataConfig.Fields.NAMES;

    static final String SFT_EXPECTED =
            "messages | prompt+completion | text | conversations (ShareGPT) | instruction+output (Alpaca)";
    static final String PREFERENCE_EXPECTED = "prompt+chosen+rejected | chosen+rejected (message lists) | "
            + "conversations+chosen+rejected (ShareGPT) | instruction+chosen+rejected (Alpaca)";
    private static final Map<String, String> ROLES = Map.ofEntries(
            Map.entry("system", "system"),
            Map.entry("user", "user"),
            Map.entry("human", "user"),
            Map.entry("assistant", "assistant"),
            Map.entry("gpt", "assistant"),
            Map.entry("model", "assistant"),
            Map.entry("chatgpt", "assistant"),
            Map.entry("function_call", "assistant"),
            Map.entry("tool", "tool"),
            Map.entry("observation", "tool"),
            Map.entry("function", "tool"),
            Map.entry("ipython", "tool"));

    /** Which records a reader takes. */
    public enum Task {
        SFT,
        PREFERENCE
    }

    /** A record fits none of the known schemas. */
    public static final class UnknownSchemaException extends BadRecordException {
        public UnknownSchemaException(String message) {
            super(message);
        }
    }

    private final Task task;
    private final Map<String, String> fields;

    /**
     * @param fields {@code data.fields}: paft's name to the dataset's column (null values ignored)
     * @throws PaftException exit 2 for a key paft does not know
     */
    public RecordSchema(Task task, Map<String, String> fields) {
        this.task = task;
        this.fields = new LinkedHashMap<>();
        if (fields != null) {
            fields.forEach((k, v) -> {
                if (!FIELDS.contains(k)) {
                    throw PaftException.usage(
                            "data.fields." + k + ": unknown field (known: " + String.join(", ", FIELDS) + ")");
                }
                if (v != null && !v.isBlank()) {
                    this.fields.put(k, v);
                }
            });
        }
    }

    public static RecordSchema of(Task task) {
        return new RecordSchema(task, Map.of());
    }

    /** The record in TRL's shape; throws {@link BadRecordException} for a record that cannot be. */
    public ObjectNode normalize(JsonNode record) {
        ObjectNode r = NODES.objectNode();
        record.fields().forEachRemaining(e -> {
            if (!e.getValue().isNull()) {
                r.set(e.getKey(), e.getValue());
            }
        });
        for (Map.Entry<String, String> f : fields.entrySet()) {
            if (f.getKey().equals("role") || f.getKey().equals("content")) {
                continue;
            }
            JsonNode v = r.get(f.getValue());
            if (v == null) {
                throw new UnknownSchemaException(
                        "data.fields." + f.getKey() + " is '" + f.getValue() + "', but the record has no column '"
                                + f.getValue() + "' (found columns " + columns(record) + ")");
            }
            r.set(f.getKey(), v);
        }
        for (String source : fields.values()) {
            if (!fields.containsKey(source)
                    && !source.equals(fields.get("role"))
                    && !source.equals(fields.get("content"))) {
                r.remove(source); // a mapped column is used under its new name only
            }
        }
        return task == Task.SFT ? sft(r, record) : preference(r, record);
    }

    private ObjectNode sft(ObjectNode r, JsonNode original) {
        if (r.has("messages")) {
            r.set("messages", withSystem(r, messages(r, "messages")));
            return r;
        }
        if (r.has("conversations")) {
            r.set("messages", withSystem(r, messages(r, "conversations")));
            r.remove("conversations");
            return r;
        }
        if (r.has("prompt") && r.has("completion")) {
            for (String k : List.of("prompt", "completion")) {
                if (r.get(k).isArray()) {
                    r.set(k, messages(r, k));
                }
            }
            if (r.get("prompt").isArray()) {
                r.set("prompt", withSystem(r, (ArrayNode) r.get("prompt")));
            }
            return r;
        }
        if (r.has("text")) {
            return r;
        }
        if (r.has("instruction") && r.has("output")) {
            ObjectNode out = NODES.objectNode();
            out.set("prompt", alpacaPrompt(r));
            out.set("completion", NODES.arrayNode().add(message("assistant", string(r, "output"))));
            return out;
        }
        throw unknown(original, SFT_EXPECTED);
    }

    private ObjectNode preference(ObjectNode r, JsonNode original) {
        if (r.has("chosen") != r.has("rejected")) {
            throw new BadRecordException("missing field '" + (r.has("chosen") ? "rejected" : "chosen") + "'");
        }
        if (!r.has("chosen")) {
            throw unknown(original, PREFERENCE_EXPECTED);
        }
        JsonNode chosen = answer(r, "chosen");
        JsonNode rejected = answer(r, "rejected");
        JsonNode prompt = null;
        if (r.has("prompt")) {
            prompt = r.get("prompt").isArray() ? withSystem(r, messages(r, "prompt")) : r.get("prompt");
        } else if (r.has("conversations") || r.has("messages")) {
            prompt = withSystem(r, messages(r, r.has("conversations") ? "conversations" : "messages"));
        } else if (r.has("instruction")) {
            prompt = alpacaPrompt(r);
        }
        if (prompt != null
                && prompt.isTextual()
                && chosen.isArray()
                && rejected.isArray()
                && !hasRole(chosen, "user")
                && !hasRole(rejected, "user")) {
            prompt = withSystem(r, NODES.arrayNode().add(message("user", prompt.asText())));
        }
        if (prompt != null && prompt.isArray()) {
            chosen = chosen.isTextual() ? NODES.arrayNode().add(message("assistant", chosen.asText())) : chosen;
            rejected = rejected.isTextual() ? NODES.arrayNode().add(message("assistant", rejected.asText())) : rejected;
        }
        ObjectNode out = NODES.objectNode();
        if (prompt != null) {
            out.set("prompt", prompt);
        }
        out.set("chosen", chosen);
        out.set("rejected", rejected);
        return out;
    }

    /** chosen/rejected: a string, a message list, or one message object (LLaMA-Factory's ShareGPT preference form). */
    private ArrayNode messagesOrNull(JsonNode v) {
        return v.isArray() ? (ArrayNode) v : null;
    }

    private JsonNode answer(ObjectNode r, String key) {
        JsonNode v = r.get(key);
        if (v.isObject()) {
            ObjectNode wrapped = NODES.objectNode();
            wrapped.set(key, NODES.arrayNode().add(v));
            return messages(wrapped, key);
        }
        return messagesOrNull(v) != null ? messages(r, key) : v;
    }

    private ArrayNode alpacaPrompt(ObjectNode r) {
        ArrayNode p = NODES.arrayNode();
        if (r.has("system")) {
            p.add(message("system", string(r, "system")));
        }
        JsonNode history = r.get("history");
        if (history != null) {
            if (!history.isArray()) {
                throw new BadRecordException("field 'history' must be a list of [instruction, response] pairs, found "
                        + DatasetFiles.kind(history));
            }
            for (int i = 0; i < history.size(); i++) {
                JsonNode turn = history.get(i);
                if (!turn.isArray()
                        || turn.size() != 2
                        || !turn.get(0).isTextual()
                        || !turn.get(1).isTextual()) {
                    throw new BadRecordException(
                            "history[" + i + "] must be a pair of strings [instruction, response]");
                }
                p.add(message("user", turn.get(0).asText()));
                p.add(message("assistant", turn.get(1).asText()));
            }
        }
        String instruction = string(r, "instruction");
        String input = r.has("input") ? string(r, "input") : "";
        String user = instruction.isEmpty() ? input : input.isEmpty() ? instruction : instruction + "\n" + input;
        p.add(message("user", user));
        return p;
    }

    /** A message list with ShareGPT's from/value (or the mapped keys) as role/content and ShareGPT role names as TRL's. */
    private ArrayNode messages(ObjectNode r, String key) {
        JsonNode v = r.get(key);
        if (!v.isArray()) {
            throw new BadRecordException(
                    "field '" + key + "' must be a list of messages, found " + DatasetFiles.kind(v));
        }
        String roleKey = fields.get("role");
        String contentKey = fields.get("content");
        ArrayNode out = NODES.arrayNode(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode m = v.get(i);
            String where = key + "[" + i + "]";
            if (!m.isObject()) {
                throw new BadRecordException(
                        where + " must be an object with role and content (or from and value), found "
                                + DatasetFiles.kind(m));
            }
            if (roleKey == null && contentKey == null && m.has("role")) {
                out.add(m); // TRL's own form: the reader checks it
                continue;
            }
            String rk = roleKey != null ? roleKey : m.has("from") ? "from" : null;
            String ck =
                    contentKey != null ? contentKey : m.has("content") ? "content" : m.has("value") ? "value" : null;
            if (rk == null || !m.hasNonNull(rk)) {
                throw new BadRecordException(where + ": no "
                        + (roleKey != null ? "'" + roleKey + "' (data.fields.role)" : "'role' or 'from'")
                        + " (found keys " + columns(m) + ")");
            }
            if (ck == null || !m.has(ck)) {
                throw new BadRecordException(where + ": no "
                        + (contentKey != null ? "'" + contentKey + "' (data.fields.content)" : "'content' or 'value'")
                        + " (found keys " + columns(m) + ")");
            }
            JsonNode role = m.get(rk);
            if (!role.isTextual()) {
                throw new BadRecordException(where + "." + rk + " must be a string, found " + DatasetFiles.kind(role));
            }
            String mapped = ROLES.get(role.asText().toLowerCase(Locale.ROOT));
            if (mapped == null) {
                throw new BadRecordException(
                        where + "." + rk + ": unknown role '" + role.asText()
                                + "' (expected system, user, assistant, tool; or ShareGPT's human, gpt, observation, function_call)");
            }
            ObjectNode n = NODES.objectNode();
            n.put("role", mapped);
            n.set("content", m.get(ck));
            out.add(n);
        }
        return out;
    }

    /** A {@code system} column as the first message, unless the conversation has its own. */
    private static ArrayNode withSystem(ObjectNode r, ArrayNode messages) {
        JsonNode system = r.get("system");
        if (system == null
                || !system.isTextual()
                || system.asText().isEmpty()
                || (!messages.isEmpty()
                        && "system".equals(messages.get(0).path("role").asText()))) {
            return messages;
        }
        ArrayNode out = NODES.arrayNode();
        out.add(message("system", system.asText()));
        out.addAll(messages);
        return out;
    }

    private static boolean hasRole(JsonNode messages, String role) {
        for (JsonNode m : messages) {
            if (role.equals(m.path("role").asText())) {
                return true;
            }
        }
        return false;
    }

    private static ObjectNode message(String role, String content) {
        ObjectNode m = NODES.objectNode();
        m.put("role", role);
        m.put("content", content);
        return m;
    }

    private static String string(ObjectNode r, String key) {
        JsonNode v = r.get(key);
        if (!v.isTextual()) {
            throw new BadRecordException("field '" + key + "' must be a string, found " + DatasetFiles.kind(v));
        }
        return v.asText();
    }

    private UnknownSchemaException unknown(JsonNode record, String expected) {
        return new UnknownSchemaException("found columns " + columns(record) + "; expected one of: " + expected
                + "; map other columns with data.fields (e.g. data.fields.prompt: question)");
    }

    private static String columns(JsonNode n) {
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            names.add(it.next());
        }
        return names.toString();
    }
}
