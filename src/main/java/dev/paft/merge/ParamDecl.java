package dev.paft.merge;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** A merge method's parameter declaration: names with defaults, in order (a null default means required). */
final class ParamDecl {
    private ParamDecl() {}

    /** {@code of("t", null, "eps", 1e-8)}: an ordered, read-only map from name/default pairs. */
    static Map<String, Object> of(Object... nameThenDefault) {
        if (nameThenDefault.length % 2 != 0) {
            throw new IllegalArgumentException("name/default pairs expected");
        }
        Map<String, Object> p = new LinkedHashMap<>();
        for (int i = 0; i < nameThenDefault.length; i += 2) {
            p.put((String) nameThenDefault[i], nameThenDefault[i + 1]);
        }
        return Collections.unmodifiableMap(p);
    }
}
