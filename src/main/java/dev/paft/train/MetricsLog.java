package dev.paft.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code metrics.jsonl}: one JSON object per logged step. On resume, lines past the checkpoint's
 * step are dropped so the file reads as one uninterrupted run.
 */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = Mappers.json();
    public static final String FILE = "metrics.jsonl";

    private final BufferedWriter out;

    private MetricsLog(BufferedWriter out) {
        this.out = out;
    }

    /** Opens the log, keeping only records with {@code step <= keepUpTo} (-1 keeps nothing). */
    public static MetricsLog open(Path outputDir, int keepUpTo) {
        Path file = outputDir.resolve(FILE);
        try {
            List<String> kept = new ArrayList<>();
            if (keepUpTo >= 0 && Files.exists(file)) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    try {
                        JsonNode n = JSON.readTree(line);
                        if (n != null && n.path("step").asInt(Integer.MAX_VALUE) <= keepUpTo) {
                            kept.add(line);
                        }
                    } catch (IOException torn) {
                        // a line torn by a killed process: drop it
                    }
                }
            }
            Files.write(file, kept, StandardCharsets.UTF_8);
            return new MetricsLog(Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw PaftException.io("write", file, e);
        }
    }

    public void write(Map<String, Object> record) {
        try {
            out.write(JSON.writeValueAsString(record));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw PaftException.io("append to", FILE, e);
        }
    }

    /** Reads every record of a metrics file. */
    public static List<JsonNode> read(Path file) {
        List<JsonNode> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    out.add(JSON.readTree(line));
                }
            }
        } catch (IOException e) {
            throw PaftException.badInput(file + ": " + e.getMessage(), e);
        }
        return out;
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
