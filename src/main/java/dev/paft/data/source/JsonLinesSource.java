package dev.paft.data.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * JSON Lines ({@code .jsonl}, {@code .ndjson}, gzipped or not, and {@code .json} files written
 * one object a line, as {@code datasets}' {@code to_json} does): one JSON object a line, blank
 * lines skipped, a leading byte-order mark ignored. A line that is not a JSON object is a bad row
 * at {@code file:line}; bytes that are not UTF-8 stop the read with the line they are on.
 */
final class JsonLinesSource implements RecordSource {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final BufferedReader in;
    private int lineNo;

    JsonLinesSource(Path file, InputStream raw) {
        this.file = file;
        this.in = new BufferedReader(new InputStreamReader(raw, StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)), 1 << 16);
    }

    @Override
    public Row next() {
        while (true) {
            String line;
            try {
                line = in.readLine();
            } catch (CharacterCodingException e) {
                throw PaftException.badInput(file + ":" + (lineNo + 1) + ": not UTF-8 text (dataset files must be UTF-8)", e);
            } catch (IOException e) {
                throw PaftException.badInput(file + ": cannot read: " + DatasetFiles.reason(e), e);
            }
            if (line == null) {
                return null;
            }
            lineNo++;
            if (lineNo == 1 && line.startsWith("\uFEFF")) {
                line = line.substring(1);
            }
            if (line.isBlank()) {
                continue;
            }
            String where = file + ":" + lineNo;
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                return Row.bad(where, "not valid JSON: " + e.getOriginalMessage());
            }
            if (node == null || !node.isObject()) {
                return Row.bad(where, "expected a JSON object, found " + (node == null ? "nothing" : DatasetFiles.kind(node)));
            }
            return Row.of(where, node);
        }
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException ignored) {
            // read-only
        }
    }
}
