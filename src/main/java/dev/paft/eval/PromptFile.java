package dev.paft.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.data.ChatMessage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Prompts for generation from JSONL: {@code {"prompt": "text"}}, {@code {"prompt": [messages]}} or
 * {@code {"messages": [{"role", "content"}, ...]}}; a bad record is bad input naming {@code file:line}.
 */
public final class PromptFile {
    private PromptFile() {}

    /** A text prompt or a conversation (exactly one is non-null). */
    public record Prompt(String text, List<ChatMessage> messages) {
        public Prompt {
            if ((text == null) == (messages == null)) {
                throw new IllegalArgumentException("a prompt is text or messages");
            }
            messages = messages == null ? null : List.copyOf(messages);
        }
    }

    public static List<Prompt> read(Path file) {
        return EvalJsonl.read(file, PromptFile::parse);
    }

    static Prompt parse(JsonNode r) {
        if (r.has("messages")) {
            return new Prompt(null, messages(r.get("messages"), "messages"));
        }
        JsonNode p = r.get("prompt");
        if (p != null && p.isArray()) {
            return new Prompt(null, messages(p, "prompt"));
        }
        if (p != null) {
            return new Prompt(EvalJsonl.string(r, "prompt"), null);
        }
        throw new EvalJsonl.BadRecord("expected 'prompt' (text or messages) or 'messages'");
    }

    private static List<ChatMessage> messages(JsonNode v, String field) {
        if (!v.isArray() || v.isEmpty()) {
            throw new EvalJsonl.BadRecord("'" + field + "' must be a non-empty list of {role, content}");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode m = v.get(i);
            JsonNode role = m.get("role");
            JsonNode content = m.get("content");
            if (role == null || !role.isTextual() || content == null || !content.isTextual()) {
                throw new EvalJsonl.BadRecord("'" + field + "'[" + i + "] must have string 'role' and 'content'");
            }
            if (!ChatMessage.ROLES.contains(role.asText())) {
                throw new EvalJsonl.BadRecord("'" + field + "'[" + i + "] has unknown role '" + role.asText() + "'");
            }
            out.add(new ChatMessage(role.asText(), content.asText()));
        }
        return out;
    }
}
