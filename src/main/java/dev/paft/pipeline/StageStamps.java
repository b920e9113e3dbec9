package dev.paft.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import dev.paft.io.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What each stage of a run was made from, kept in {@code <run>/paft_stages.json}: per stage (its
 * output path relative to the run directory) a SHA-256 of its resolved inputs (the stage's whole
 * config; for merges and evaluations also the stamps of the stages they read) and those inputs as
 * flat {@code key: value} pairs, so a changed stage is named with what changed.
 *
 * <p>A stage is stamped before it starts, so an interrupted training resumes only under the same
 * config. Output without a stamp (a run made by an earlier paft) counts as changed.
 */
final class StageStamps {
    static final String FILE = "paft_stages.json";

    /** A stage's inputs, flattened to sorted {@code key: value} pairs, and their hash. */
    record Stamp(Map<String, String> inputs, String hash) {
        static Stamp of(Map<String, String> inputs) {
            TreeMap<String, String> sorted = new TreeMap<>(inputs);
            StringBuilder sb = new StringBuilder();
            sorted.forEach((k, v) -> sb.append(k).append('\u0000').append(v).append('\n'));
            try {
                byte[] d = MessageDigest.getInstance("SHA-256")
                        .digest(sb.toString().getBytes(StandardCharsets.UTF_8));
                return new Stamp(sorted, HexFormat.of().formatHex(d));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A stage whose output exists but was made from other inputs. */
    record Change(String stage, String what) {}

    private final Path file;
    private final ObjectNode stages;

    StageStamps(Path runDir) {
        this.file = runDir.resolve(FILE);
        JsonNode n = Files.isRegularFile(file) ? Json.readObject(file).path("stages") : null;
        this.stages = n instanceof ObjectNode o ? o.deepCopy() : Json.MAPPER.createObjectNode();
    }

    /** A JSON tree flattened to dotted keys (lists as {@code key[i]}), values as their JSON text. */
    static Map<String, String> flatten(JsonNode node) {
        Map<String, String> out = new TreeMap<>();
        flatten("", node, out);
        return out;
    }

    private static void flatten(String prefix, JsonNode n, Map<String, String> out) {
        if (n.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out);
            }
        } else if (n.isArray()) {
            for (int i = 0; i < n.size(); i++) {
                flatten(prefix + "[" + i + "]", n.get(i), out);
            }
            if (n.isEmpty()) {
                out.put(prefix, "[]");
            }
        } else if (!n.isNull() && !n.isMissingNode()) {
            out.put(prefix, n.isTextual() ? n.asText() : n.toString());
        }
    }

    /**
     * The change that makes {@code stage}'s existing output stale, or null when it is current (or
     * has no output yet).
     */
    Change check(String stage, Stamp now, boolean outputExists) {
        if (!outputExists) {
            return null;
        }
        JsonNode old = stages.get(stage);
        if (old == null) {
            return new Change(stage, "made without a config stamp (by an earlier paft), config unknown");
        }
        if (old.path("pending").asBoolean(false)) {
            return new Change(
                    stage, "a redo with --overwrite did not finish, so its output may still be the one made before");
        }
        if (old.path("sha256").asText().equals(now.hash())) {
            return null;
        }
        Map<String, String> before = new TreeMap<>();
        old.path("inputs")
                .fields()
                .forEachRemaining(e -> before.put(e.getKey(), e.getValue().asText()));
        List<String> diffs = new ArrayList<>();
        for (String k : union(before, now.inputs())) {
            String a = before.get(k);
            String b = now.inputs().get(k);
            if (!Objects.equals(a, b)) {
                diffs.add(k + " " + (a == null ? "(unset)" : a) + " -> " + (b == null ? "(unset)" : b));
            }
        }
        String what = diffs.isEmpty()
                ? "inputs changed"
                : String.join(", ", diffs.subList(0, Math.min(3, diffs.size())))
                        + (diffs.size() > 3 ? " and " + (diffs.size() - 3) + " more" : "");
        return new Change(stage, what);
    }

    private static List<String> union(Map<String, String> a, Map<String, String> b) {
        TreeMap<String, Boolean> keys = new TreeMap<>();
        a.keySet().forEach(k -> keys.put(k, true));
        b.keySet().forEach(k -> keys.put(k, true));
        return new ArrayList<>(keys.keySet());
    }

    /** Whether {@code stage}'s recorded stamp has this hash. */
    boolean recorded(String stage, String hash) {
        JsonNode old = stages.get(stage);
        return old != null && old.path("sha256").asText().equals(hash);
    }

    /** The recorded inputs of {@code stage} whose keys start with {@code prefix} (none when it has no stamp). */
    Map<String, String> entries(String stage, String prefix) {
        Map<String, String> out = new TreeMap<>();
        JsonNode old = stages.get(stage);
        if (old != null) {
            old.path("inputs").fields().forEachRemaining(e -> {
                if (e.getKey().startsWith(prefix)) {
                    out.put(e.getKey(), e.getValue().asText());
                }
            });
        }
        return out;
    }

    /** Records {@code stage}'s stamp (before the stage runs) and saves the file atomically. */
    void put(String stage, Stamp s) {
        JsonNode old = stages.get(stage);
        if (old != null && old.path("sha256").asText().equals(s.hash()) && !old.has("pending")) {
            return;
        }
        ObjectNode o = stages.putObject(stage);
        o.put("sha256", s.hash());
        ObjectNode in = o.putObject("inputs");
        s.inputs().forEach(in::put);
        save();
    }

    /** Records {@code stage}'s stamp marked pending: its old output is still in place until {@link #clearPending}. */
    void putPending(String stage, Stamp s) {
        put(stage, s);
        ((ObjectNode) stages.get(stage)).put("pending", true);
        save();
    }

    /** The stage's output is the one its stamp describes. */
    void clearPending(String stage) {
        if (stages.get(stage) instanceof ObjectNode o && o.has("pending")) {
            o.remove("pending");
            save();
        }
    }

    private void save() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("format", "paft-stages/1");
        root.set("stages", stages);
        try {
            Json.write(file, root);
        } catch (RuntimeException e) {
            throw PaftException.io("write", file, e);
        }
    }
}
