package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A mergekit parameter setting: a scalar, a layer gradient (a list of numbers interpolated at
 * {@code t = layer / (n_layers - 1)}), a list of other scalars (booleans, strings: the entry at
 * {@code int(t * (len - 1))}), or a list of {@code {filter, value}} conditions where the first
 * entry whose filter is absent, {@code "*"} or a substring of the tensor name wins. When no entry
 * matches, {@link #resolve} returns null and the caller falls through to the next level (the
 * global {@code parameters:}, then the method default), as mergekit's {@code evaluate_setting} and
 * {@code ConfigReader.parameter} do (mergekit/config.py).
 */
public sealed interface ParamValue {
    /** The value for one tensor; null when no filter matches and there is no fallback. */
    Object resolve(String tensor, double t);

    record Scalar(Object value) implements ParamValue {
        public Object resolve(String tensor, double t) {
            return value;
        }
    }

    /** Piecewise-linear interpolation over evenly spaced anchors: {@code scaled = t * (len - 1)}. */
    record Gradient(double[] anchors) implements ParamValue {
        public Object resolve(String tensor, double t) {
            return interpolate(anchors, t);
        }
    }

    /** A list of non-numeric scalars: a step function of {@code t}, {@code values[int(t * (len - 1))]}. */
    record Steps(List<Object> values) implements ParamValue {
        public Object resolve(String tensor, double t) {
            return values.get((int) (Math.max(0, Math.min(1, t)) * (values.size() - 1)));
        }
    }

    record Condition(String filter, ParamValue value) {
        /** mergekit's rule: no filter, {@code "*"}, or a substring of the tensor name. */
        boolean matches(String tensor) {
            return filter == null || "*".equals(filter) || tensor.contains(filter);
        }
    }

    record Filtered(List<Condition> conditions) implements ParamValue {
        public Object resolve(String tensor, double t) {
            for (Condition c : conditions) {
                if (c.matches(tensor)) {
                    return c.value().resolve(tensor, t);
                }
            }
            return null;
        }
    }

    static double interpolate(double[] g, double t) {
        if (g.length == 1) {
            return g[0];
        }
        double scaled = Math.max(0, Math.min(1, t)) * (g.length - 1);
        int i0 = (int) Math.floor(scaled);
        int i1 = Math.min(g.length - 1, i0 + 1);
        double frac = scaled - i0;
        return (1 - frac) * g[i0] + frac * g[i1];
    }

    /** Parses a YAML/JSON value (as bound by Jackson to Java objects); {@code where} names it in errors. */
    static ParamValue parse(Object raw, String where) {
        if (raw == null) {
            throw PaftException.usage(where + ": has no value");
        }
        if (raw instanceof Number || raw instanceof Boolean || raw instanceof String) {
            return new Scalar(raw instanceof Number n && !(raw instanceof Double) ? (Object) n.doubleValue() : raw);
        }
        if (raw instanceof List<?> list) {
            if (list.isEmpty()) {
                throw PaftException.usage(
                        where
                                + ": an empty list is not a valid value (use a number, a gradient list of numbers, or a list of {filter, value})");
            }
            if (list.stream().allMatch(x -> x instanceof Number)) {
                return new Gradient(list.stream()
                        .mapToDouble(x -> ((Number) x).doubleValue())
                        .toArray());
            }
            if (list.stream().allMatch(x -> x instanceof Boolean || x instanceof String)) {
                return new Steps(List.copyOf(new ArrayList<Object>(list)));
            }
            if (list.stream().allMatch(x -> x instanceof Map)) {
                List<Condition> cs = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    Map<?, ?> m = (Map<?, ?>) list.get(i);
                    for (Object k : m.keySet()) {
                        if (!"filter".equals(k) && !"value".equals(k)) {
                            throw PaftException.usage(
                                    where + "[" + i + "]: unknown key '" + k + "' (expected filter, value)");
                        }
                    }
                    if (!m.containsKey("value")) {
                        throw PaftException.usage(where + "[" + i + "]: missing 'value'");
                    }
                    Object f = m.get("filter");
                    cs.add(new Condition(
                            f == null ? null : f.toString(), parse(m.get("value"), where + "[" + i + "].value")));
                }
                return new Filtered(List.copyOf(cs));
            }
            throw PaftException.usage(where
                    + ": a list must be all numbers (a layer gradient), all true/false or strings, or all {filter, value} entries, got "
                    + raw);
        }
        throw PaftException.usage(where + ": unsupported value " + raw);
    }
}
