package dev.paft.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * JSON Lines input of the evaluators: one JSON object a line, blank lines skipped. A malformed
 * line or record is bad input (exit 3) naming {@code file:line}.
 */
final class EvalJsonl {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A record that cannot be used; the reader adds {@code file:line}. */
    static final class BadRecord extends RuntimeException {
        BadRecord(String message) {
            super(message);
        }
    }

    /** Turns one parsed record into a value, or throws {@link BadRecord}. */
    interface Parser<T> {
        T parse(JsonNode record);
    }

    private EvalJsonl() {}

    /** Every record of {@code file}, parsed; an empty file is bad input. */
    static <T> List<T> read(Path file, Parser<T> parser) {
        requireFile(file);
        List<T> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    JsonNode node;
                    try {
                        node = JSON.readTree(line);
                    } catch (JsonProcessingException e) {
                        throw new BadRecord("not valid JSON: " + e.getOriginalMessage());
                    }
                    if (node == null || !node.isObject()) {
                        throw new BadRecord("expected a JSON object");
                    }
                    out.add(parser.parse(node));
                } catch (BadRecord e) {
                    throw PaftException.badInput(file + ":" + lineNo + ": " + e.getMessage(), e);
                } catch (PaftException e) {
                    if (e.exitCode() != PaftException.BAD_INPUT) {
                        throw e;
                    }
                    throw PaftException.badInput(file + ":" + lineNo + ": " + e.getMessage(), e);
                }
            }
        } catch (IOException e) {
            throw PaftException.badInput(file + ": cannot read: " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw PaftException.badInput(file + ": no records");
        }
        return out;
    }

    /** Bad input (exit 3) unless {@code file} is a readable regular file. */
    static void requireFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw PaftException.badInput(file + ": no such file");
        }
    }

    /** A required string field. */
    static String string(JsonNode r, String field) {
        JsonNode v = r.get(field);
        if (v == null || v.isNull()) {
            throw new BadRecord("missing field '" + field + "'");
        }
        if (!v.isTextual()) {
            throw new BadRecord("field '" + field + "' must be a string, found " + v.getNodeType());
        }
        return v.asText();
    }

    /** A required array of non-negative integer token ids below {@code vocab}. */
    static int[] ids(JsonNode r, String field, int vocab) {
        JsonNode v = r.get(field);
        if (v == null || !v.isArray()) {
            throw new BadRecord("field '" + field + "' must be an array of token ids");
        }
        int[] out = new int[v.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode x = v.get(i);
            if (!x.canConvertToInt() || !x.isIntegralNumber() || x.asInt() < 0 || x.asInt() >= vocab) {
                throw new BadRecord("field '" + field + "'[" + i + "] = " + x + " is not a token id in [0, " + vocab + ")");
            }
            out[i] = x.asInt();
        }
        return out;
    }
}
