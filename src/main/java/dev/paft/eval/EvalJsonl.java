package dev.paft.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.data.BadRecordException;
import dev.paft.data.JsonlReader;
import dev.paft.errors.PaftException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * JSON Lines input of the evaluators: one JSON object a line, blank lines skipped. A malformed
 * line or record is bad input (exit 3) naming {@code file:line}.
 */
final class EvalJsonl {

    /** A record that cannot be used; the reader adds {@code file:line}. */
    static final class BadRecord extends BadRecordException {
        BadRecord(String message) {
            super(message);
        }
    }

    /** Turns one parsed record into a value, or throws {@link BadRecord}. */
    interface Parser<T> {
        T parse(JsonNode record);
    }

    private EvalJsonl() {}

    /** Every record of {@code file}, parsed (the data package's JSONL reader); an empty file is bad input. */
    static <T> List<T> read(Path file, Parser<T> parser) {
        requireFile(file);
        List<T> out = new ArrayList<>();
        JsonlReader.forEach(file, r -> out.add(parser.parse(r)));
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
        return JsonlReader.string(r, field);
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
                throw new BadRecord(
                        "field '" + field + "'[" + i + "] = " + x + " is not a token id in [0, " + vocab + ")");
            }
            out[i] = x.asInt();
        }
        return out;
    }
}
