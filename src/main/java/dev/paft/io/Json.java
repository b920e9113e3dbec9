package dev.paft.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** Shared JSON reading and writing with errors that name the file. */
public final class Json {
    public static final ObjectMapper MAPPER = Mappers.jsonPretty();

    private Json() {}

    /** Reads a JSON object file; exit 3 naming the file when missing or malformed. */
    public static JsonNode readObject(Path file) {
        if (!Files.isRegularFile(file)) {
            throw PaftException.badInput(file + ": file not found");
        }
        try {
            JsonNode n = MAPPER.readTree(file.toFile());
            if (n == null || !n.isObject()) {
                throw PaftException.badInput(file + ": expected a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw PaftException.badInput(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Writes pretty JSON with a trailing newline, atomically (temp sibling then rename). */
    public static void write(Path file, Object value) {
        try {
            AtomicFiles.writeString(file, MAPPER.writeValueAsString(value) + "\n");
        } catch (IOException e) {
            throw PaftException.io("write", file, e);
        }
    }

    /**
     * The text Python's {@code json.dumps(value, indent=2, sort_keys=sortKeys)} gives for a tree:
     * {@code ", "}/{@code ": "} separators, non-ASCII escaped as {@code \\uXXXX}, floats as
     * Python's {@code repr}. PEFT writes {@code adapter_config.json} this way, transformers the
     * sharded {@code model.safetensors.index.json} (plus a newline).
     */
    public static String toPythonJson(JsonNode value, boolean sortKeys) {
        StringBuilder sb = new StringBuilder();
        pyWrite(sb, value, 0, sortKeys);
        return sb.toString();
    }

    /** Writes {@link #toPythonJson} text atomically (no trailing newline unless {@code newline}). */
    public static void writePython(Path file, JsonNode value, boolean sortKeys, boolean newline) {
        try {
            AtomicFiles.writeString(file, toPythonJson(value, sortKeys) + (newline ? "\n" : ""));
        } catch (IOException e) {
            throw PaftException.io("write", file, e);
        }
    }

    private static void pyWrite(StringBuilder sb, JsonNode n, int depth, boolean sortKeys) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            sb.append("null");
        } else if (n.isObject()) {
            if (n.size() == 0) {
                sb.append("{}");
                return;
            }
            List<String> keys = new ArrayList<>();
            n.fieldNames().forEachRemaining(keys::add);
            if (sortKeys) {
                keys.sort(null); // Python sorts str by code point; Java's String order agrees on the BMP
            }
            sb.append("{\n");
            for (Iterator<String> it = keys.iterator(); it.hasNext(); ) {
                String k = it.next();
                indent(sb, depth + 1);
                pyString(sb, k);
                sb.append(": ");
                pyWrite(sb, n.get(k), depth + 1, sortKeys);
                sb.append(it.hasNext() ? ",\n" : "\n");
            }
            indent(sb, depth);
            sb.append('}');
        } else if (n.isArray()) {
            if (n.size() == 0) {
                sb.append("[]");
                return;
            }
            sb.append("[\n");
            for (int i = 0; i < n.size(); i++) {
                indent(sb, depth + 1);
                pyWrite(sb, n.get(i), depth + 1, sortKeys);
                sb.append(i + 1 < n.size() ? ",\n" : "\n");
            }
            indent(sb, depth);
            sb.append(']');
        } else if (n.isTextual()) {
            pyString(sb, n.asText());
        } else if (n.isBoolean()) {
            sb.append(n.asBoolean() ? "true" : "false");
        } else if (n.isIntegralNumber()) {
            sb.append(n.bigIntegerValue());
        } else if (n.isNumber()) {
            sb.append(pyFloat(n.doubleValue()));
        } else {
            pyString(sb, n.asText());
        }
    }

    private static void indent(StringBuilder sb, int depth) {
        sb.append("  ".repeat(depth));
    }

    private static void pyString(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                case '\r':
                    sb.append("\\r");
                    break;
                case '\t':
                    sb.append("\\t");
                    break;
                case '\b':
                    sb.append("\\b");
                    break;
                case '\f':
                    sb.append("\\f");
                    break;
                default:
                    if (c < 0x20 || c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    /** Python's {@code repr(float)}: shortest digits, exponent form below 1e-4 or from 1e16. */
    public static String pyFloat(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = bd.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - bd.scale(); // decimal exponent of the first digit
        String sign = d < 0 ? "-" : "";
        if (exp < -4 || exp >= 16) {
            String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mant + "e" + (exp < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp));
        }
        String plain = bd.abs().toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }
}
