package dev.paft.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/** Parsing of message lists from records, and the longest common prefix of two conversations. */
final class Conversations {
    private Conversations() {}

    /** Whether a field holds a message list (a JSON array) rather than a string. */
    static boolean isConversation(JsonNode value) {
        return value != null && value.isArray();
    }

    /** A required message list: {@code [{"role": ..., "content": ...}, ...]} with known roles. */
    static List<ChatMessage> messages(JsonNode record, String field) {
        JsonNode v = record.get(field);
        if (v == null || v.isNull()) {
            throw new BadRecordException("missing field '" + field + "'");
        }
        if (!v.isArray()) {
            throw new BadRecordException("field '" + field + "' must be a list of messages, found " + v.getNodeType());
        }
        if (v.isEmpty()) {
            throw new BadRecordException("field '" + field + "' has no messages");
        }
        List<ChatMessage> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode m = v.get(i);
            String where = field + "[" + i + "]";
            if (!m.isObject()) {
                throw new BadRecordException(where + " must be an object with role and content");
            }
            JsonNode role = m.get("role");
            JsonNode content = m.get("content");
            if (role == null || !role.isTextual()) {
                throw new BadRecordException(where + ": missing or non-string 'role'");
            }
            if (!ChatMessage.ROLES.contains(role.asText())) {
                throw new BadRecordException(where + ": unknown role '" + role.asText()
                        + "' (expected one of system, user, assistant, tool)");
            }
            if (content == null || !content.isTextual()) {
                throw new BadRecordException(where + ": missing or non-string 'content'");
            }
            out.add(new ChatMessage(role.asText(), content.asText()));
        }
        return out;
    }

    /** Number of leading messages two conversations share (same role and content). */
    static int commonPrefix(List<ChatMessage> a, List<ChatMessage> b) {
        int n = Math.min(a.size(), b.size());
        int i = 0;
        while (i < n && a.get(i).equals(b.get(i))) {
            i++;
        }
        return i;
    }

    /** Length of the longest common prefix of two strings. */
    static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return i;
    }
}
