package dev.paft.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A JSON Lines file read record by record: one JSON object a line, blank lines ignored; a bad
 * line is an error naming {@code file:line}, or is skipped and counted.
 */
public final class JsonlReader {
    private static final ObjectMapper JSON = Mappers.json();

    /** Handles one parsed record; throws {@link BadRecordException} for a record it cannot use. */
    public interface RecordHandler {
        void accept(JsonNode record);
    }

    private JsonlReader() {}

    /**
     * Hands every record of a JSONL file (one JSON object a line, blank lines skipped) to
     * {@code handler}; a malformed line, or a record the handler rejects with
     * {@link BadRecordException}, is bad input (exit 3) naming {@code file:line}; so is an empty file.
     */
    public static void forEach(Path file, RecordHandler handler) {
        forEach(file, false, new DatasetStats.Counter(), handler);
    }

    static void forEach(Path file, boolean skipBad, DatasetStats.Counter counter, RecordHandler handler) {
        if (!Files.isRegularFile(file)) {
            throw PaftException.badInput(file + ": no such dataset file");
        }
        try (Utf8Lines in = new Utf8Lines(file)) {
            Utf8Lines.Line next;
            while ((next = in.next()) != null) {
                int lineNo = next.number();
                String line = next.text() == null ? "" : next.text();
                if (next.error() == null && line.isBlank()) {
                    continue;
                }
                counter.read++;
                try {
                    if (next.error() != null) {
                        throw new BadRecordException(next.error());
                    }
                    JsonNode node;
                    try {
                        node = JSON.readTree(line);
                    } catch (JsonProcessingException e) {
                        throw new BadRecordException("not valid JSON: " + e.getOriginalMessage());
                    }
                    if (node == null || !node.isObject()) {
                        throw new BadRecordException("expected a JSON object");
                    }
                    handler.accept(node);
                } catch (BadRecordException | PaftException e) {
                    if (e instanceof PaftException p && p.exitCode() != PaftException.BAD_INPUT) {
                        throw p; // configuration problems are not the record's fault
                    }
                    if (skipBad) {
                        counter.skippedBad++;
                    } else {
                        throw PaftException.badInput(file + ":" + lineNo + ": " + e.getMessage(), e);
                    }
                }
            }
        } catch (IOException e) {
            throw PaftException.badInput(file + ": cannot read: " + e.getMessage(), e);
        }
        if (counter.read == 0) {
            throw PaftException.badInput(file + ": empty dataset (no records)");
        }
    }

    /** A required string field. */
    public static String string(JsonNode record, String field) {
        JsonNode v = record.get(field);
        if (v == null || v.isNull()) {
            throw new BadRecordException("missing field '" + field + "'");
        }
        if (!v.isTextual()) {
            throw new BadRecordException("field '" + field + "' must be a string, found " + v.getNodeType());
        }
        return v.asText();
    }
}
