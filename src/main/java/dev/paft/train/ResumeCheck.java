package dev.paft.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What may change between a run and its {@code --resume}: the resolved config of the resumed run
 * ({@code training_config.yaml}) against the new one.
 *
 * <p>Safe changes only decide how long the run goes on, how often it saves, logs and evaluates,
 * what it evaluates on, and how memory is traded for compute ({@link #SAFE}); they are applied and
 * listed. Every other change (learning rate, schedule, batch, seed, data, model, LoRA, loss, ...)
 * would make the resumed run a different run than the one its checkpoint belongs to, so the
 * resume is refused (exit 2) with the list of changed keys. Sections other commands read
 * ({@code merge}, {@code run}) are ignored.
 */
public final class ResumeCheck {
    private static final ObjectMapper YAML = Mappers.yaml();

    /** Keys that may change on resume. */
    public static final Set<String> SAFE = Set.of(
            "training.max_steps",
            "training.epochs",
            "training.save_steps",
            "training.save_total_limit",
            "training.log_steps",
            "training.eval_steps",
            "training.output_dir",
            "data.eval",
            "training.gradient_checkpointing",
            "training.loss_chunk_size");

    /** Keys holding file paths: compared as the files they name (relative or absolute, same file = same). */
    private static final Set<String> PATH_KEYS =
            Set.of("model.path", "model.tokenizer", "data.train", "data.eval", "data.chat_template");

    /** Sections of other commands, never compared. */
    private static final Set<String> IGNORED_SECTIONS = Set.of("merge", "run");

    private ResumeCheck() {}

    /** One changed key. */
    public record Change(String key, String before, String after) {
        @Override
        public String toString() {
            return key + " " + before + " -> " + after;
        }
    }

    /**
     * The safe changes from {@code before} to {@code after} (both resolved-config YAML); exit 2
     * listing the unsafe ones when there are any. {@code where} names the old file.
     */
    public static List<Change> check(String before, String after, String where) {
        List<Change> all = diff(before, after, where);
        List<Change> unsafe = all.stream().filter(c -> !SAFE.contains(c.key())).toList();
        if (!unsafe.isEmpty()) {
            StringBuilder s = new StringBuilder();
            for (Change c : unsafe) {
                s.append(s.length() == 0 ? "" : "; ").append(c);
            }
            throw PaftException.usage("cannot resume: the configuration differs from the run's (" + where + ") in "
                    + unsafe.size() + " setting(s) that change what the run computes: " + s
                    + ". Put them back, or start a new run (--overwrite or another output_dir). Safe to change on resume: "
                    + String.join(", ", new TreeSet<>(SAFE)));
        }
        return all;
    }

    /** Every key whose value differs, sorted by key. */
    static List<Change> diff(String before, String after, String where) {
        Map<String, String> a = flatten(parse(before, where));
        Map<String, String> b = flatten(parse(after, "the new configuration"));
        TreeMap<String, Boolean> keys = new TreeMap<>();
        a.keySet().forEach(k -> keys.put(k, true));
        b.keySet().forEach(k -> keys.put(k, true));
        List<Change> out = new ArrayList<>();
        for (String k : keys.keySet()) {
            String x = a.getOrDefault(k, "(unset)");
            String y = b.getOrDefault(k, "(unset)");
            if (!x.equals(y) && PATH_KEYS.contains(k) && samePath(x, y)) {
                continue;
            }
            if (!x.equals(y) && !IGNORED_SECTIONS.contains(k.substring(0, Math.max(0, k.indexOf('.'))))) {
                out.add(new Change(k, x, y));
            }
        }
        return out;
    }

    private static boolean samePath(String a, String b) {
        try {
            Path x = Path.of(a);
            Path y = Path.of(b);
            return Files.exists(x) && Files.isSameFile(x, y);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static JsonNode parse(String yaml, String where) {
        try {
            JsonNode n = YAML.readTree(yaml);
            return n == null ? YAML.createObjectNode() : n;
        } catch (IOException e) {
            throw PaftException.badInput(where + ": unreadable: " + e.getMessage(), e);
        }
    }

    private static Map<String, String> flatten(JsonNode root) {
        Map<String, String> out = new TreeMap<>();
        flatten("", root, out);
        return out;
    }

    private static void flatten(String prefix, JsonNode n, Map<String, String> out) {
        if (n.isObject()
                && !prefix.isEmpty()
                && prefix.chars().filter(c -> c == '.').count() >= 1) {
            out.put(prefix, n.toString()); // nested maps below a key (e.g. run.sft_variants) compare whole
            return;
        }
        if (n.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out);
            }
            return;
        }
        out.put(prefix, n.isValueNode() ? n.asText() : n.toString());
    }
}
