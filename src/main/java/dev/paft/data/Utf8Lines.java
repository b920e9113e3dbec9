package dev.paft.data;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The lines of a text file, each decoded as UTF-8 on its own, so one line with invalid bytes is an
 * error of that line ({@link Line#error()}, with the byte offset) and the lines after it still read.
 * Line ends are {@code \n} or {@code \r\n}; a UTF-8 byte order mark at the start is dropped.
 */
final class Utf8Lines implements Closeable {
    /** One line: its 1-based number and its text, or why its bytes are not UTF-8 (then text is null). */
    record Line(int number, String text, String error) {}

    private final InputStream in;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private byte[] buf = new byte[8192];
    private int number;
    private boolean eof;

    Utf8Lines(Path file) throws IOException {
        this.in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    }

    /** The next line, or null at the end of the file. */
    Line next() throws IOException {
        if (eof) {
            return null;
        }
        int n = 0;
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
            if (n == buf.length) {
                buf = Arrays.copyOf(buf, buf.length * 2);
            }
            buf[n++] = (byte) b;
        }
        if (b < 0) {
            eof = true;
            if (n == 0) {
                return null;
            }
        }
        number++;
        int from =
                number == 1 && n >= 3 && (buf[0] & 0xff) == 0xEF && (buf[1] & 0xff) == 0xBB && (buf[2] & 0xff) == 0xBF
                        ? 3
                        : 0;
        int len = n > from && buf[n - 1] == '\r' ? n - 1 - from : n - from;
        ByteBuffer bytes = ByteBuffer.wrap(buf, from, len);
        CharBuffer out = CharBuffer.allocate(len); // UTF-8 never decodes to more chars than bytes
        decoder.reset();
        CoderResult r = decoder.decode(bytes, out, true);
        if (!r.isError()) {
            r = decoder.flush(out);
        }
        if (r.isError()) {
            return new Line(number, null, "invalid UTF-8 at byte " + (bytes.position() - from + 1) + " of the line");
        }
        return new Line(number, out.flip().toString(), null);
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
