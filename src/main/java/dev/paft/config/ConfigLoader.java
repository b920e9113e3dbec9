package dev.paft.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonMappingException.Reference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Builds a {@link PaftConfig} from, in increasing precedence: the bundled defaults
 * ({@code defaults.yaml}), a YAML or JSON file, {@code --set key=value} overrides, and
 * command-line flags. Unknown keys, wrong types and out-of-range values are errors (exit 2)
 * naming the key and the file.
 */
public final class ConfigLoader {
    static final ObjectMapper YAML = Mappers.settings(false);
    /** JSON files are read as JSON: YAML forbids the tab indentation JSON writers often use. */
    static final ObjectMapper JSON = Mappers.settings(true);

    private ConfigLoader() {}

    /** The bundled defaults as a tree (also the reference for every key). */
    public static ObjectNode defaults() {
        try (InputStream in = ConfigLoader.class.getResourceAsStream("defaults.yaml")) {
            return (ObjectNode) YAML.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException("bundled defaults.yaml is unreadable", e);
        }
    }

    /** Reads a YAML or JSON file to a tree; exit 2 naming the file when missing or malformed. */
    public static ObjectNode readFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw PaftException.usage("config file " + file + " not found");
        }
        boolean json = file.getFileName().toString().toLowerCase().endsWith(".json");
        try {
            JsonNode n = (json ? JSON : YAML).readTree(file.toFile());
            if (n == null || n.isMissingNode() || n.isNull()) {
                return YAML.createObjectNode();
            }
            if (!n.isObject()) {
                throw PaftException.usage(file + ": the config must be a mapping of sections");
            }
            return (ObjectNode) n;
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            String at = loc == null || loc.getLineNr() < 1 ? "" : ":" + loc.getLineNr() + ":" + loc.getColumnNr();
            String why = e.getOriginalMessage()
                    .lines()
                    .map(String::strip)
                    .filter(l -> !l.isEmpty())
                    .filter(l -> !l.startsWith("in 'reader'") && !l.startsWith("^"))
                    .collect(Collectors.joining(" "));
            throw PaftException.usage(file + at + ": cannot parse " + (json ? "JSON" : "YAML") + ": " + why);
        } catch (IOException e) {
            throw PaftException.usage(file + ": cannot read: " + e.getMessage());
        }
    }

    /**
     * Loads the full config: defaults, then the file (may be null), then {@code sets}
     * ("section.key=value", value parsed as YAML), then {@code flags} (dotted key to value; null
     * values are skipped).
     */
    public static PaftConfig load(Path file, List<String> sets, Map<String, Object> flags) {
        ObjectNode tree = defaults();
        String source = file == null ? "defaults" : file.toString();
        // Where each dotted key's value came from, so an error names the file, --set or flag at fault.
        Map<String, String> origins = new HashMap<>();
        if (file != null) {
            ObjectNode user = readFile(file);
            ObjectNode flat = ConfigHints.translateFlat(user, tree, source);
            if (flat != null) {
                user = flat;
            }
            checkKnownSections(user, tree, source);
            recordOrigins(user, "", source, origins);
            deepMerge(tree, user);
        }
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw PaftException.usage(
                        "--set " + s + ": expected key=value, e.g. --set training.learning_rate=1e-4");
            }
            String key = s.substring(0, eq).trim();
            setPath(tree, key, parseScalar(s.substring(eq + 1)), "--set " + s);
            forget(origins, key);
            origins.put(key, "--set " + s);
        }
        for (Map.Entry<String, Object> f : flags.entrySet()) {
            if (f.getValue() != null) {
                setPath(tree, f.getKey(), YAML.valueToTree(f.getValue()), "flag for " + f.getKey());
                forget(origins, f.getKey());
                origins.put(f.getKey(), "command-line flag for " + f.getKey());
            }
        }
        return bind(tree, source, origins);
    }

    private static void recordOrigins(JsonNode node, String prefix, String source, Map<String, String> out) {
        node.fields().forEachRemaining(e -> {
            String key = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            out.put(key, source);
            if (e.getValue().isObject()) {
                recordOrigins(e.getValue(), key, source, out);
            }
        });
    }

    private static void forget(Map<String, String> origins, String key) {
        origins.keySet().removeIf(k -> k.startsWith(key + "."));
    }

    /** The source that set {@code key} (or its nearest enclosing section), else {@code fallback}. */
    static String originOf(Map<String, String> origins, String key, String fallback) {
        for (String k = key; !k.isEmpty(); k = k.contains(".") ? k.substring(0, k.lastIndexOf('.')) : "") {
            String o = origins.get(k.replaceAll("\\[\\d+]$", ""));
            if (o != null) {
                return o;
            }
        }
        return fallback;
    }

    /** Converts a merged tree to the config records and validates ranges. */
    public static PaftConfig bind(ObjectNode tree, String source) {
        return bind(tree, source, Map.of());
    }

    /**
     * Converts a merged tree to the config records and validates ranges; errors name the source
     * recorded in {@code origins} for the key at fault (dotted key to file, --set or flag).
     */
    public static PaftConfig bind(ObjectNode tree, String fallback, Map<String, String> origins) {
        PaftConfig cfg = bindOrThrow(tree, fallback, origins);
        cfg.validate(new Validator(key -> originOf(origins, key, fallback)));
        return cfg;
    }

    private static PaftConfig bindOrThrow(ObjectNode tree, String fallback, Map<String, String> origins) {
        PaftConfig cfg;
        try {
            cfg = YAML.treeToValue(tree, PaftConfig.class);
        } catch (JsonMappingException e) {
            throw describe(e, originOf(origins, path(e), fallback));
        } catch (IOException e) {
            throw PaftException.usage(fallback + ": " + e.getMessage());
        }
        return cfg;
    }

    /** Throws the usage error (exit 2) that names the key, its source and what was expected. */
    private static PaftException describe(JsonMappingException err, String source) {
        try {
            throw err;
        } catch (UnrecognizedPropertyException e) {
            String known = e.getKnownPropertyIds() == null
                    ? ""
                    : " (known: "
                            + e.getKnownPropertyIds().stream()
                                    .map(Object::toString)
                                    .sorted()
                                    .collect(Collectors.joining(", "))
                            + ")";
            throw PaftException.usage(unknownKey(source, path(e), e.getKnownPropertyIds()) + known);
        } catch (InvalidFormatException e) {
            if (e.getTargetType() != null && e.getTargetType().isEnum()) { // as Validator words a range error
                throw PaftException.usage(source + ": " + path(e) + " must be one of "
                        + Mappers.spellings(e.getTargetType()) + " (got " + e.getValue() + ")");
            }
            throw PaftException.usage(source + ": key '" + path(e) + "' has the wrong type: expected "
                    + simpleType(e.getTargetType()) + ", got '" + e.getValue() + "'");
        } catch (MismatchedInputException e) {
            throw PaftException.usage(
                    source + ": key '" + path(e) + "' has the wrong type: expected " + simpleType(e.getTargetType()));
        } catch (JsonMappingException e) {
            throw PaftException.usage(source + ": key '" + path(e) + "': " + e.getOriginalMessage());
        }
    }

    /**
     * A stage's config: {@code base} with {@code overlay} (a partial config: sections and keys)
     * merged on top and then the dotted {@code forced} keys set. Errors name {@code where}.
     */
    public static PaftConfig overlay(
            PaftConfig base, Map<String, Object> overlay, Map<String, Object> forced, String where) {
        ObjectNode tree = YAML.valueToTree(base);
        if (overlay != null && !overlay.isEmpty()) {
            ObjectNode o = YAML.valueToTree(overlay);
            checkKnownSections(o, tree, where);
            deepMerge(tree, o);
        }
        for (Map.Entry<String, Object> f : forced.entrySet()) {
            setPath(tree, f.getKey(), YAML.valueToTree(f.getValue()), where);
        }
        return bind(tree, where);
    }

    /** Overlays map {@code over} onto {@code base} (nested maps merge key by key). */
    @SuppressWarnings("unchecked")
    public static void deepMergeMaps(Map<String, Object> base, Map<String, Object> over) {
        if (over == null) {
            return;
        }
        over.forEach((k, v) -> {
            Object cur = base.get(k);
            if (cur instanceof Map && v instanceof Map) {
                Map<String, Object> copy = new LinkedHashMap<>((Map<String, Object>) cur);
                deepMergeMaps(copy, (Map<String, Object>) v);
                base.put(k, copy);
            } else {
                base.put(k, v);
            }
        });
    }

    /** The resolved config as YAML (written next to every run's outputs). */
    public static String toYaml(PaftConfig cfg) {
        try {
            return YAML.writeValueAsString(cfg);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String simpleType(Class<?> t) {
        if (t == null) {
            return "another type";
        }
        if (t == int.class || t == Integer.class || t == long.class || t == Long.class) {
            return "an integer";
        }
        if (t == double.class || t == Double.class) {
            return "a number";
        }
        if (t == boolean.class || t == Boolean.class) {
            return "true or false";
        }
        if (t == String.class) {
            return "a string";
        }
        if (List.class.isAssignableFrom(t)) {
            return "a list";
        }
        return "a mapping";
    }

    private static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                if (sb.length() > 0) {
                    sb.append('.');
                }
                sb.append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                sb.append('[').append(r.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    private static void checkKnownSections(ObjectNode user, ObjectNode defaults, String source) {
        for (Iterator<String> it = user.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!defaults.has(k)) {
                throw PaftException.usage(
                        unknownKey(source, k, iterable(defaults)).replace("unknown key", "unknown section")
                                + " (known: " + String.join(", ", (Iterable<String>) defaults::fieldNames) + ")");
            }
        }
    }

    private static List<Object> iterable(ObjectNode n) {
        List<Object> l = new ArrayList<>();
        n.fieldNames().forEachRemaining(l::add);
        return l;
    }

    /** "FILE:LINE: unknown key 'lora.lora_alpha'; did you mean 'lora.alpha'?" (the line when the source is a file). */
    private static String unknownKey(String source, String dotted, Collection<Object> known) {
        int dot = dotted.lastIndexOf('.');
        int line = ConfigHints.line(source, dotted);
        return source + (line > 0 ? ":" + line : "") + ": unknown key '" + dotted + "'"
                + ConfigHints.didYouMean(
                        dot < 0 ? "" : dotted.substring(0, dot),
                        dotted.substring(dot + 1),
                        known.stream().map(Object::toString).toList());
    }

    /** Overlays {@code over} onto {@code base}: mappings merge key by key, anything else replaces. */
    static void deepMerge(ObjectNode base, JsonNode over) {
        over.fields().forEachRemaining(e -> {
            JsonNode cur = base.get(e.getKey());
            if (cur instanceof ObjectNode && e.getValue().isNull()) {
                return; // an empty section ("lora:" with nothing under it) keeps the defaults
            }
            if (cur instanceof ObjectNode && e.getValue().isObject()) {
                deepMerge((ObjectNode) cur, e.getValue());
            } else {
                base.set(e.getKey(), e.getValue());
            }
        });
    }

    private static void setPath(ObjectNode tree, String dotted, JsonNode value, String where) {
        String[] parts = dotted.split("\\.");
        ObjectNode node = tree;
        for (int i = 0; i < parts.length - 1; i++) {
            JsonNode next = node.get(parts[i]);
            if (next == null && i == 0) {
                throw PaftException.usage(where + ": unknown section '" + parts[0] + "'");
            }
            if (next == null || next.isNull()) {
                next = node.putObject(parts[i]);
            }
            if (!next.isObject()) {
                throw PaftException.usage(
                        where + ": '" + String.join(".", Arrays.copyOf(parts, i + 1)) + "' is not a section");
            }
            node = (ObjectNode) next;
        }
        String last = parts[parts.length - 1];
        if (parts.length == 1 && !tree.has(last)) {
            throw PaftException.usage(where + ": unknown section '" + last + "'");
        }
        if (node.path(last).isObject() && !value.isObject()) {
            // a section replaced by a scalar would be blamed later on whichever of its keys is read first
            var keys = node.get(last).fieldNames();
            throw PaftException.usage(where + ": '" + dotted + "' is a section, not a value; set one of its keys"
                    + (keys.hasNext() ? ", e.g. " + dotted + "." + keys.next() + "=..." : ""));
        }
        node.set(last, value);
    }

    private static JsonNode parseScalar(String text) {
        try {
            JsonNode n = YAML.readTree(text.isEmpty() ? "''" : text);
            return n == null ? YAML.getNodeFactory().nullNode() : n;
        } catch (IOException e) {
            return YAML.getNodeFactory().textNode(text);
        }
    }
}
