package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.Map;

/** Parameters resolved for one tensor (and one input, for per-input parameters), with typed getters. */
public record Params(String where, Map<String, Object> values) {
    public double number(String key) {
        Object v = values.get(key);
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw PaftException.usage(where + ": parameter '" + key + "' must be a number (got " + v + ")");
    }

    public boolean bool(String key) {
        Object v = values.get(key);
        if (v instanceof Boolean b) {
            return b;
        }
        throw PaftException.usage(where + ": parameter '" + key + "' must be true or false (got " + v + ")");
    }

    public String string(String key) {
        Object v = values.get(key);
        return v == null ? null : v.toString();
    }

    public Object get(String key) {
        return values.get(key);
    }
}
