package dev.paft.data.template;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Python's {@code str} and {@code dict} methods for Jinjava expressions, as chat templates call
 * them ({@code content.strip()}, {@code content.split('</think>')[-1]},
 * {@code content.startswith('<tool_response>')}, {@code tool.items()}, ...): Jinjava would
 * otherwise call the Java method of the same name or fail.
 */
final class PyMethodResolver extends ELResolver {
    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (method == null) {
            return null;
        }
        Object[] args = params == null ? new Object[0] : params;
        String name = method.toString();
        Object result;
        if (base instanceof String s) {
            result = stringMethod(s, name, args);
        } else if (base instanceof Map<?, ?> m) {
            result = mapMethod(m, name, args);
        } else {
            return null;
        }
        if (result != NONE) {
            context.setPropertyResolved(true);
            return result;
        }
        return null;
    }

    private static final Object NONE = new Object();

    private static Object stringMethod(String s, String name, Object[] a) {
        switch (name) {
            case "strip":
                return PyStr.strip(s, chars(a), true, true);
            case "lstrip":
                return PyStr.strip(s, chars(a), true, false);
            case "rstrip":
                return PyStr.strip(s, chars(a), false, true);
            case "split":
                return PyStr.split(s, a.length > 0 ? (String) a[0] : null, a.length > 1 ? toInt(a[1]) : -1);
            case "rsplit":
                return PyStr.rsplit(s, a.length > 0 ? (String) a[0] : null, a.length > 1 ? toInt(a[1]) : -1);
            case "splitlines":
                return PyStr.splitlines(s);
            case "startswith":
                return affix(s, a, true);
            case "endswith":
                return affix(s, a, false);
            case "upper":
                return s.toUpperCase(Locale.ROOT);
            case "lower":
                return s.toLowerCase(Locale.ROOT);
            case "title":
                return PyStr.title(s);
            case "capitalize":
                return s.isEmpty()
                        ? s
                        : s.substring(0, 1).toUpperCase(Locale.ROOT)
                                + s.substring(1).toLowerCase(Locale.ROOT);
            case "replace":
                return a.length > 2
                        ? PyStr.replace(s, (String) a[0], (String) a[1], toInt(a[2]))
                        : s.replace((String) a[0], (String) a[1]);
            case "find":
                return (long) s.indexOf((String) a[0]);
            case "count":
                return (long) PyStr.count(s, (String) a[0]);
            case "join":
                return PyStr.join(s, a[0]);
            case "isalpha":
                return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isdigit":
                return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isspace":
                return !s.isEmpty() && s.chars().allMatch(c -> JinjaWhitespace.isPyWhitespace((char) c));
            default:
                return NONE;
        }
    }

    private static Object mapMethod(Map<?, ?> m, String name, Object[] a) {
        switch (name) {
            case "items": {
                List<List<Object>> items = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    items.add(Arrays.asList(e.getKey(), e.getValue()));
                }
                return items;
            }
            case "keys":
                return new ArrayList<>(m.keySet());
            case "values":
                return new ArrayList<>(m.values());
            case "get":
                return m.containsKey(a[0]) ? m.get(a[0]) : (a.length > 1 ? a[1] : null);
            default:
                return NONE;
        }
    }

    private static String chars(Object[] a) {
        return a.length > 0 && a[0] != null ? a[0].toString() : null;
    }

    private static boolean affix(String s, Object[] a, boolean start) {
        Object arg = a[0];
        if (arg instanceof Collection<?> c) {
            for (Object o : c) {
                if (start ? s.startsWith(o.toString()) : s.endsWith(o.toString())) {
                    return true;
                }
            }
            return false;
        }
        return start ? s.startsWith(arg.toString()) : s.endsWith(arg.toString());
    }

    private static int toInt(Object o) {
        return ((Number) o).intValue();
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        if (base instanceof String s && property instanceof Number n) {
            int i = n.intValue() < 0 ? s.length() + n.intValue() : n.intValue();
            if (i >= 0 && i < s.length()) {
                context.setPropertyResolved(true);
                return String.valueOf(s.charAt(i));
            }
        }
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        // not resolved here
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
