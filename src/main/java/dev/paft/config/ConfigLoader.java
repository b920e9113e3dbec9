package dev.paft.config;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonMappingException.Reference;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
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
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(com.fasterxml.jackson.databind.MapperFeature.ALLOW_COERCION_OF_SCALARS);

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
        try {
            JsonNode n = YAML.readTree(file.toFile()); // YAML is a superset of JSON
            if (n == null || n.isMissingNode() || n.isNull()) {
                return YAML.createObjectNode();
            }
            if (!n.isObject()) {
                throw PaftException.usage(file + ": the config must be a mapping of sections");
            }
            return (ObjectNode) n;
        } catch (IOException e) {
            throw PaftException.usage(file + ": cannot parse: " + e.getMessage().lines().findFirst().orElse(""));
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
        if (file != null) {
            ObjectNode user = readFile(file);
            checkKnownSections(user, tree, source);
            deepMerge(tree, user);
        }
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw PaftException.usage("--set " + s + ": expected key=value, e.g. --set training.learning_rate=1e-4");
            }
            setPath(tree, s.substring(0, eq).trim(), parseScalar(s.substring(eq + 1)), "--set " + s);
        }
        for (Map.Entry<String, Object> f : flags.entrySet()) {
            if (f.getValue() != null) {
                setPath(tree, f.getKey(), YAML.valueToTree(f.getValue()), "flag for " + f.getKey());
            }
        }
        return bind(tree, source);
    }

    /** Converts a merged tree to the config records and validates ranges. */
    public static PaftConfig bind(ObjectNode tree, String source) {
        PaftConfig cfg;
        try {
            cfg = YAML.treeToValue(tree, PaftConfig.class);
        } catch (UnrecognizedPropertyException e) {
            String known = e.getKnownPropertyIds() == null ? "" : " (known: " + e.getKnownPropertyIds().stream()
                    .map(Object::toString).sorted().collect(Collectors.joining(", ")) + ")";
            throw PaftException.usage(source + ": unknown key '" + path(e) + "'" + known);
        } catch (InvalidFormatException e) {
            throw PaftException.usage(source + ": key '" + path(e) + "' has the wrong type: expected "
                    + simpleType(e.getTargetType()) + ", got '" + e.getValue() + "'");
        } catch (MismatchedInputException e) {
            throw PaftException.usage(source + ": key '" + path(e) + "' has the wrong type: expected "
                    + simpleType(e.getTargetType()));
        } catch (JsonMappingException e) {
            throw PaftException.usage(source + ": key '" + path(e) + "': " + e.getOriginalMessage());
        } catch (IOException e) {
            throw PaftException.usage(source + ": " + e.getMessage());
        }
        cfg.validate(new Validator(source));
        return cfg;
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
                throw PaftException.usage(source + ": unknown section '" + k + "' (known: "
                        + String.join(", ", (Iterable<String>) defaults::fieldNames) + ")");
            }
        }
    }

    /** Overlays {@code over} onto {@code base}: mappings merge key by key, anything else replaces. */
    static void deepMerge(ObjectNode base, JsonNode over) {
        over.fields().forEachRemaining(e -> {
            JsonNode cur = base.get(e.getKey());
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
                throw PaftException.usage(where + ": '" + String.join(".", java.util.Arrays.copyOf(parts, i + 1)) + "' is not a section");
            }
            node = (ObjectNode) next;
        }
        node.set(parts[parts.length - 1], value);
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
