package dev.paft.attack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.testutil.Cli;
import dev.paft.testutil.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Broken inputs for the input attack tests: edited copies of the demo model, and the CLI run in-process. */
final class AttackInputs {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path DEMO_DATA = Path.of("src/main/resources/dev/paft/demo/data");

    private AttackInputs() {}

    /** Exit code, stdout and stderr of one in-process {@code paft} run. */
    static Cli.Run paft(String... args) {
        return Cli.paft(args);
    }

    /** A copy of the demo model (vocab 276, hidden 128, 4 layers) with {@code edit} applied to its config.json. */
    static Path demo(Path dir, Consumer<ObjectNode> edit) {
        TinyModels.demo(dir);
        try {
            ObjectNode c = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
            edit.accept(c);
            Files.writeString(
                    dir.resolve("config.json"),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** Overwrites element {@code index} of F32 tensor {@code name} in {@code file} with {@code value}, in place. */
    static void poke(Path file, String name, int index, float value) {
        try {
            byte[] b = Files.readAllBytes(file);
            ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            int n = (int) buf.getLong(0);
            JsonNode h = JSON.readTree(new String(b, 8, n, StandardCharsets.UTF_8));
            JsonNode t = h.get(name);
            if (t == null || !"F32".equals(t.get("dtype").asText())) {
                throw new IllegalArgumentException("no F32 tensor " + name + " in " + file);
            }
            buf.putFloat(8 + n + (int) t.get("data_offsets").get(0).asLong() + 4 * index, value);
            Files.write(file, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sets every element of F32 tensor {@code name} to {@code value}. */
    static void fill(Path file, String name, float value) {
        try {
            byte[] b = Files.readAllBytes(file);
            ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            int n = (int) buf.getLong(0);
            JsonNode t =
                    JSON.readTree(new String(b, 8, n, StandardCharsets.UTF_8)).get(name);
            long from = t.get("data_offsets").get(0).asLong();
            long to = t.get("data_offsets").get(1).asLong();
            for (long p = from; p < to; p += 4) {
                buf.putFloat((int) (8 + n + p), value);
            }
            Files.write(file, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path write(Path file, String text) {
        try {
            Files.writeString(file, text);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
