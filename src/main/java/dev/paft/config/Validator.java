package dev.paft.config;

import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.util.Arrays;
import java.util.function.Function;

/** Range checks that fail with exit 2 naming the key and the config source. */
final class Validator {
    private final Function<String, String> source;

    Validator(String source) {
        this(key -> source);
    }

    /** With a per-key source: the file, {@code --set} or flag that set the key. */
    Validator(Function<String, String> source) {
        this.source = source;
    }

    void check(String key, boolean ok, String message, Object value) {
        if (!ok) {
            throw PaftException.usage(source.apply(key) + ": " + key + " " + message + " (got " + value + ")");
        }
    }

    void oneOf(String key, String value, String... allowed) {
        check(
                key,
                value != null && Arrays.asList(allowed).contains(value),
                "must be one of " + Arrays.toString(allowed),
                value);
    }

    /** An enum key must be set: null (an empty value) fails like a wrong spelling, listing the allowed ones. */
    void required(String key, Enum<?> value, Class<? extends Enum<?>> type) {
        check(key, value != null, "must be one of " + Mappers.spellings(type), null);
    }
}
