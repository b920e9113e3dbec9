package dev.paft.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Shared JSON reading and writing with errors that name the file. */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Json() {}

    /** Reads a JSON object file; exit 3 naming the file when missing or malformed. */
    public static JsonNode readObject(Path file) {
        if (!Files.isRegularFile(file)) {
            throw PaftException.badInput(file + ": file not found");
        }
        try {
            JsonNode n = MAPPER.readTree(file.toFile());
            if (n == null || !n.isObject()) {
                throw PaftException.badInput(file + ": expected a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw PaftException.badInput(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Writes pretty JSON with a trailing newline, atomically (temp sibling then rename). */
    public static void write(Path file, Object value) {
        try {
            AtomicFiles.writeString(file, MAPPER.writeValueAsString(value) + "\n");
        } catch (IOException e) {
            throw new PaftException(PaftException.INTERNAL, "cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
