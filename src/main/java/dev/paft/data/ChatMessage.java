package dev.paft.data;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One turn of a conversation: a role ({@code system}, {@code user}, {@code assistant} or
 * {@code tool}) and its text content, as in HF's {@code {"role": ..., "content": ...}}.
 */
public record ChatMessage(String role, String content) {
    /** Roles a message may carry; any other role is a data error. */
    public static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool");

    public ChatMessage {
        if (role == null || content == null) {
            throw new IllegalArgumentException("role and content must not be null");
        }
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }

    public boolean isAssistant() {
        return "assistant".equals(role);
    }

    /** The message as the map a Jinja chat template indexes ({@code message['role']}). */
    public Map<String, Object> toTemplateMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        return m;
    }
}
