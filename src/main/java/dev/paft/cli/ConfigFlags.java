package dev.paft.cli;

import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Model.OptionSpec;

/** The flags layer of a command's config: each {@link ConfigKey} field given on the command line, by its key. */
final class ConfigFlags {
    private ConfigFlags() {}

    /**
     * The keys set by the {@link ConfigKey} fields of {@code holders} (a command and its mixins) that were given:
     * null fields (flags not given) are left out; paths become strings.
     */
    static Map<String, Object> values(Object... holders) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Object h : holders) {
            for (Field f : h.getClass().getDeclaredFields()) {
                ConfigKey k = f.getAnnotation(ConfigKey.class);
                if (k == null) {
                    continue;
                }
                try {
                    f.setAccessible(true);
                    Object v = f.get(h);
                    if (v != null) {
                        out.put(k.value(), v instanceof Path p ? p.toString() : v);
                    }
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return out;
    }

    /** The key an option sets, or null when it sets none. */
    static String keyOf(OptionSpec o) {
        ConfigKey k = o.userObject() instanceof Field f ? f.getAnnotation(ConfigKey.class) : null;
        return k == null ? null : k.value();
    }
}
