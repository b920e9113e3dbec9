package dev.paft.data.template;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import dev.paft.io.Json;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * transformers' {@code tojson} filter: Python's {@code json.dumps(x, ensure_ascii=False,
 * indent=None, separators=None, sort_keys=False)} with those keyword arguments. Default
 * separators are {@code ", "} and {@code ": "} ({@code ","} and {@code ": "} with an indent);
 * non-ASCII text is written as is; nothing is HTML-escaped.
 */
final class PyJson implements Filter {
    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        return filter(var, interpreter, (Object[]) args, Map.of());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : (args.length > 1 ? args[1] : null);
        Object seps = kwargs.get("separators");
        boolean ensureAscii = Boolean.TRUE.equals(kwargs.get("ensure_ascii"));
        boolean sortKeys = Boolean.TRUE.equals(kwargs.get("sort_keys"));
        String indentStr = null;
        if (indent instanceof Number n) {
            indentStr = " ".repeat(n.intValue());
        } else if (indent instanceof String s) {
            indentStr = s;
        }
        String item = indentStr == null ? ", " : ",";
        String key = ": ";
        if (seps instanceof List<?> l && l.size() == 2) {
            item = l.get(0).toString();
            key = l.get(1).toString();
        } else if (seps instanceof Object[] a && a.length == 2) {
            item = a[0].toString();
            key = a[1].toString();
        }
        StringBuilder out = new StringBuilder();
        new PyJson.Writer(indentStr, item, key, ensureAscii, sortKeys).write(var, out, 0);
        return out.toString();
    }

    /** {@code json.dumps} with its default arguments (used for Python-style printing). */
    static String dumps(Object value) {
        StringBuilder out = new StringBuilder();
        new Writer(null, ", ", ": ", false, false).write(value, out, 0);
        return out.toString();
    }

    private record Writer(String indent, String itemSep, String keySep, boolean ensureAscii, boolean sortKeys) {
        void write(Object v, StringBuilder out, int level) {
            if (v == null) {
                out.append("null");
            } else if (v instanceof Boolean b) {
                out.append(b ? "true" : "false");
            } else if (v instanceof Number n) {
                out.append(number(n));
            } else if (v instanceof CharSequence || v instanceof Character) {
                string(v.toString(), out);
            } else if (v instanceof Map<?, ?> m) {
                List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
                if (sortKeys) {
                    entries.sort((x, y) -> String.valueOf(x.getKey()).compareTo(String.valueOf(y.getKey())));
                }
                if (entries.isEmpty()) {
                    out.append("{}");
                    return;
                }
                out.append('{');
                for (int i = 0; i < entries.size(); i++) {
                    out.append(i == 0 ? "" : itemSep);
                    newline(out, level + 1);
                    Object k = entries.get(i).getKey();
                    string(
                            k instanceof Boolean || k instanceof Number || k == null
                                    ? String.valueOf(write(k))
                                    : k.toString(),
                            out);
                    out.append(keySep);
                    write(entries.get(i).getValue(), out, level + 1);
                }
                newline(out, level);
                out.append('}');
            } else if (v instanceof Collection<?> || v instanceof Object[]) {
                Collection<?> c = v instanceof Collection<?> cc ? cc : List.of((Object[]) v);
                if (c.isEmpty()) {
                    out.append("[]");
                    return;
                }
                out.append('[');
                int i = 0;
                for (Object o : c) {
                    out.append(i++ == 0 ? "" : itemSep);
                    newline(out, level + 1);
                    write(o, out, level + 1);
                }
                newline(out, level);
                out.append(']');
            } else {
                string(v.toString(), out);
            }
        }

        private String write(Object scalar) {
            StringBuilder b = new StringBuilder();
            write(scalar, b, 0);
            return b.toString();
        }

        private void newline(StringBuilder out, int level) {
            if (indent != null) {
                out.append('\n').append(indent.repeat(level));
            }
        }

        private void string(String s, StringBuilder out) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> {
                        if (c < 0x20 || (ensureAscii && c > 0x7e)) {
                            out.append(String.format("\\u%04x", (int) c));
                        } else {
                            out.append(c);
                        }
                    }
                }
            }
            out.append('"');
        }
    }

    /** A number as Python writes it ({@code repr}): ints plainly, floats like {@code 1.0}, {@code 1e+20}. */
    static String number(Number n) {
        if (n instanceof Double || n instanceof Float) {
            return Json.pyFloat(n.doubleValue());
        }
        if (n instanceof BigDecimal bd) {
            return Json.pyFloat(bd.doubleValue());
        }
        return n.toString();
    }
}
