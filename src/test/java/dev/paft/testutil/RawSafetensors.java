package dev.paft.testutil;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-built safetensors bytes for tests: u64 LE length, header text, data. */
public final class RawSafetensors {
    private RawSafetensors() {}

    public static Path write(Path file, long declaredLen, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLen).put(header).put(data);
        Files.write(file, b.array());
        return file;
    }

    public static Path write(Path file, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return write(file, h.length, h, new byte[dataBytes]);
    }

    public static byte[] bytes(Path file) throws IOException {
        return Files.readAllBytes(file);
    }

    public static long headerLen(byte[] file) {
        return ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    public static String header(byte[] file) {
        return new String(file, 8, (int) headerLen(file), StandardCharsets.UTF_8);
    }
}
