package dev.paft.data.template;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import java.util.Arrays;
import java.util.Collection;
import java.util.Map;

/**
 * Printing values the way Jinja2 prints them ({@code str()} in Python): {@code True}/{@code False},
 * floats as Python writes them, lists and dicts as Python's {@code repr}. Every {@code {{ }}}
 * output goes through this filter (see {@link JinjaWhitespace}). A null prints as nothing, as an
 * undefined variable does in Jinja2 (Jinjava cannot tell {@code None} from undefined).
 *
 * <p>Also the tests that Jinjava answers differently: {@code iterable}/{@code sequence} (true
 * for strings in Jinja2) and {@code in} (substring test for strings).
 */
final class PyPrint implements Filter {
    static final String NAME = "paft_py_str";

    @Override
    public String getName() {
        return NAME;
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        return var == null ? "" : str(var);
    }

    static String str(Object v) {
        if (v instanceof String s) {
            return s;
        }
        return repr(v);
    }

    static String repr(Object v) {
        if (v == null) {
            return "None";
        }
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (v instanceof Number n) {
            return PyJson.number(n);
        }
        if (v instanceof CharSequence || v instanceof Character) {
            return quote(v.toString());
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder("{");
            int i = 0;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(i++ == 0 ? "" : ", ")
                        .append(repr(e.getKey()))
                        .append(": ")
                        .append(repr(e.getValue()));
            }
            return b.append('}').toString();
        }
        if (v instanceof Collection<?> || v instanceof Object[]) {
            Collection<?> c = v instanceof Collection<?> cc ? cc : Arrays.asList((Object[]) v);
            StringBuilder b = new StringBuilder("[");
            int i = 0;
            for (Object o : c) {
                b.append(i++ == 0 ? "" : ", ").append(repr(o));
            }
            return b.append(']').toString();
        }
        return v.toString();
    }

    /** Python's {@code repr} of a string. */
    static String quote(String s) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder b = new StringBuilder().append(q);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == q || c == '\\') {
                b.append('\\').append(c);
            } else if (c == '\n') {
                b.append("\\n");
            } else if (c == '\r') {
                b.append("\\r");
            } else if (c == '\t') {
                b.append("\\t");
            } else if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append(q).toString();
    }

    /** {@code is iterable}: strings, lists, dicts and arrays. */
    static final class Iterable implements ExpTest {
        @Override
        public String getName() {
            return "iterable";
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            return var instanceof CharSequence
                    || var instanceof java.lang.Iterable<?>
                    || var instanceof Map<?, ?>
                    || var instanceof Object[];
        }
    }

    /** {@code is sequence}: strings, lists, dicts and arrays (what has a length and items). */
    static final class Sequence implements ExpTest {
        @Override
        public String getName() {
            return "sequence";
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            return var instanceof CharSequence
                    || var instanceof Collection<?>
                    || var instanceof Map<?, ?>
                    || var instanceof Object[];
        }
    }

    /** {@code x is in y}: membership, substring for strings. */
    static final class In implements ExpTest {
        @Override
        public String getName() {
            return "in";
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            Object container = args.length > 0 ? args[0] : null;
            if (container instanceof String s) {
                return var != null && s.contains(var.toString());
            }
            if (container instanceof Map<?, ?> m) {
                return m.containsKey(var);
            }
            if (container instanceof Collection<?> c) {
                return c.contains(var)
                        || (var instanceof Number n
                                && c.stream()
                                        .anyMatch(o -> o instanceof Number on && on.doubleValue() == n.doubleValue()));
            }
            return false;
        }
    }
}
