package dev.paft.data.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * JSON Lines ({@code .jsonl}, {@code .ndjson}, gzipped or not, and {@code .json} files written
 * one object a line, as {@code datasets}' {@code to_json} does): one JSON object a line, blank
 * lines skipped, a leading byte-order mark ignored. A line that is not a JSON object is a bad row
 * at {@code file:line}, and so is a line whose bytes are not UTF-8 (skippable with skip_bad_records).
 */
final class JsonLinesSource implements RecordSource {
    private static final ObjectMapper JSON = Mappers.json();
    private final Path file;
    private final InputStream in;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private final byte[] chunk = new byte[1 << 16];
    private int pos;
    private int limit;
    private boolean sawAny; // bytes of the current line were read (a last line without '\n')
    private byte[] buf = new byte[1 << 12];
    private int lineNo;

    JsonLinesSource(Path file, InputStream raw) {
        this.file = file;
        this.in = raw;
    }

    /** Marks a line whose bytes are not UTF-8 (the line is consumed). */
    private static final String NOT_UTF8 = new String("\u0000not-utf8");

    /** The next line's bytes decoded (without its end of line), {@link #NOT_UTF8}, or null at the end of the file. */
    private String readLine() throws IOException {
        int n = 0;
        while (true) {
            if (pos == limit) {
                limit = in.read(chunk, 0, chunk.length);
                pos = 0;
                if (limit <= 0) {
                    limit = 0;
                    if (n == 0 && !sawAny) {
                        return null;
                    }
                    break;
                }
            }
            sawAny = true;
            int start = pos;
            while (pos < limit && chunk[pos] != '\n') {
                pos++;
            }
            int len = pos - start;
            if (n + len > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, n + len));
            }
            System.arraycopy(chunk, start, buf, n, len);
            n += len;
            if (pos < limit) {
                pos++; // the '\n'
                break;
            }
        }
        sawAny = false;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
        try {
            return utf8.decode(ByteBuffer.wrap(buf, 0, n)).toString();
        } catch (CharacterCodingException e) {
            return NOT_UTF8;
        }
    }

    @Override
    public Row next() {
        while (true) {
            String line;
            try {
                line = readLine();
            } catch (IOException e) {
                throw PaftException.badInput(file + ": cannot read: " + DatasetFiles.reason(e), e);
            }
            if (line == null) {
                return null;
            }
            lineNo++;
            if (line == NOT_UTF8) {
                return Row.bad(file + ":" + lineNo, "not UTF-8 text (dataset files must be UTF-8)");
            }
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
                return Row.bad(
                        where, "expected a JSON object, found " + (node == null ? "nothing" : DatasetFiles.kind(node)));
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
