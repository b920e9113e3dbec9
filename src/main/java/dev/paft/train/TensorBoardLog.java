package dev.paft.train;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.paft.errors.PaftException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * TensorBoard event files: {@code <output_dir>/runs/<date>_<host>/events.out.tfevents.<secs>.<host>.<pid>.0},
 * the layout of transformers' {@code TensorBoardCallback}. One scalar per numeric metric per logged step, tagged
 * as transformers tags them: {@code eval_x} as {@code eval/x}, everything else as {@code train/x}.
 *
 * <p>Format: a TFRecord stream (per record: u64 length, u32 masked CRC-32C of the length, the bytes, u32 masked
 * CRC-32C of the bytes; all little-endian; mask(c) = ((c >>> 15) | (c << 17)) + 0xa282ead8) of {@code Event}
 * protocol buffers, encoded with protobuf-java: Event {wall_time = 1 (double), step = 2 (int64), file_version = 3
 * (string, "brain.Event:2" in the first record), summary = 5 (Summary)}; Summary {value = 1 (repeated Value)};
 * Value {tag = 1 (string), simple_value = 2 (float)} (TensorBoard's {@code event.proto} and {@code summary.proto}).
 * {@code scripts/check/read_tfevents.py} reads them back with the python protobuf runtime.
 */
public final class TensorBoardLog implements AutoCloseable {
    private static final int MASK_DELTA = 0xa282ead8;

    private final OutputStream out;
    private final Path file;

    private TensorBoardLog(Path file, OutputStream out) {
        this.file = file;
        this.out = out;
    }

    /** A new event file in a new run directory under {@code outputDir/runs}. */
    public static TensorBoardLog open(Path outputDir) {
        String host = hostName();
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("MMMdd_HH-mm-ss", Locale.ROOT));
        Path dir = outputDir.resolve("runs").resolve(stamp + "_" + host);
        long secs = System.currentTimeMillis() / 1000;
        Path file = dir.resolve("events.out.tfevents." + secs + "." + host + "."
                + ProcessHandle.current().pid() + ".0");
        try {
            Files.createDirectories(dir);
            TensorBoardLog log = new TensorBoardLog(file, Files.newOutputStream(file));
            log.writeEvent(event(System.currentTimeMillis() / 1000.0, 0, "brain.Event:2", null));
            return log;
        } catch (IOException e) {
            throw PaftException.io("write TensorBoard events", file, e);
        }
    }

    public Path file() {
        return file;
    }

    /** One event with a scalar per numeric value of {@code record} (except {@code step}) at {@code step}. */
    public void write(long step, Map<String, Object> record) {
        try {
            ByteArrayOutputStream summary = new ByteArrayOutputStream();
            CodedOutputStream s = CodedOutputStream.newInstance(summary);
            for (Map.Entry<String, Object> e : record.entrySet()) {
                if (e.getKey().equals("step") || !(e.getValue() instanceof Number n)) {
                    continue;
                }
                s.writeByteArray(1, value(tag(e.getKey()), n.floatValue()));
            }
            s.flush();
            writeEvent(event(System.currentTimeMillis() / 1000.0, step, null, summary.toByteArray()));
        } catch (IOException e) {
            throw PaftException.io("append to", file, e);
        }
    }

    /** transformers' tag of a logged key: {@code eval_loss} -> {@code eval/loss}, {@code loss} -> {@code train/loss}. */
    static String tag(String key) {
        if (key.startsWith("eval_")) {
            return "eval/" + key.substring(5);
        }
        return "train/" + key;
    }

    private static byte[] value(String tag, float v) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        CodedOutputStream c = CodedOutputStream.newInstance(b);
        c.writeString(1, tag);
        c.writeFloat(2, v);
        c.flush();
        return b.toByteArray();
    }

    private static byte[] event(double wallTime, long step, String fileVersion, byte[] summary) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        CodedOutputStream c = CodedOutputStream.newInstance(b);
        c.writeDouble(1, wallTime);
        c.writeInt64(2, step);
        if (fileVersion != null) {
            c.writeString(3, fileVersion);
        }
        if (summary != null) {
            c.writeBytes(5, ByteString.copyFrom(summary));
        }
        c.flush();
        return b.toByteArray();
    }

    private void writeEvent(byte[] data) throws IOException {
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(data.length);
        out.write(len.array());
        out.write(le32(maskedCrc(len.array())));
        out.write(data);
        out.write(le32(maskedCrc(data)));
        out.flush();
    }

    /** TFRecord's masked CRC-32C. */
    static int maskedCrc(byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + MASK_DELTA;
    }

    private static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9._-]", "_");
        } catch (IOException e) {
            return "localhost";
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException ignored) {
            // nothing more to do
        }
    }
}
