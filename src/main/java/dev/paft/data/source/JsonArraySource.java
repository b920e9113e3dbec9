package dev.paft.data.source;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * A {@code .json} file holding one JSON array of records (as {@code json.dump(list)} and
 * {@code pandas.to_json(orient="records")} write it), read element by element without holding
 * the file. Each record's location is the line it starts on; a malformed file stops the read at
 * its line and column (nothing after it can be trusted), an element that is not an object is a
 * bad row.
 */
final class JsonArraySource implements RecordSource {
    private static final ObjectMapper JSON = Mappers.json();
    private final Path file;
    private final JsonParser parser;
    private boolean started;
    private int index;

    JsonArraySource(Path file, InputStream in) {
        this.file = file;
        try {
            this.parser = JSON.createParser(in);
        } catch (IOException e) {
            throw PaftException.badInput(file + ": cannot read: " + DatasetFiles.reason(e), e);
        }
    }

    @Override
    public Row next() {
        try {
            if (!started) {
                started = true;
                JsonToken t = parser.nextToken();
                if (t != JsonToken.START_ARRAY) {
                    throw PaftException.badInput(file + ": expected a JSON array of records or JSON Lines, found "
                            + (t == null
                                    ? "an empty file"
                                    : t.asString() == null ? t.name() : "'" + t.asString() + "'"));
                }
            }
            JsonToken t = parser.nextToken();
            if (t == JsonToken.END_ARRAY || t == null) {
                if (t == JsonToken.END_ARRAY && parser.nextToken() != null) {
                    throw PaftException.badInput(
                            at(parser.currentTokenLocation()) + ": unexpected content after the JSON array");
                }
                return null;
            }
            String where = at(parser.currentTokenLocation()) + " (element " + index++ + ")";
            JsonNode node = JSON.readTree(parser);
            if (!node.isObject()) {
                return Row.bad(where, "expected a JSON object, found " + DatasetFiles.kind(node));
            }
            return Row.of(where, node);
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            String where = loc == null || loc.getLineNr() < 1
                    ? file.toString()
                    : file + ":" + loc.getLineNr() + ":" + loc.getColumnNr();
            throw PaftException.badInput(where + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw PaftException.badInput(file + ": cannot read: " + DatasetFiles.reason(e), e);
        }
    }

    private String at(JsonLocation loc) {
        return file + ":" + loc.getLineNr();
    }

    @Override
    public void close() {
        try {
            parser.close();
        } catch (IOException ignored) {
            // read-only
        }
    }
}
