package dev.paft.io;

import com.fasterxml.jackson.annotation.JsonAlias;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.Deserializers;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The project's Jackson configurations, each made once here and shared (a configured
 * {@link ObjectMapper} is thread-safe; callers never reconfigure one: {@code copy()} it first).
 *
 * <ul>
 *   <li>{@link #json()}: Jackson's defaults, for data records, metadata and compact JSON output;</li>
 *   <li>{@link #jsonPretty()}: the same, indented output (run files people read);</li>
 *   <li>{@link #jsonSortedKeys()}: map entries in key order; {@link #snakeCase()}: records as snake_case trees;</li>
 *   <li>{@link #yaml()}: lenient YAML reading (a saved resolved config, mergekit files);</li>
 *   <li>{@link #yamlWriter()}: YAML output without the {@code ---} marker and with quotes only where needed;</li>
 *   <li>{@link #header(long)}: strict JSON for a file header (duplicate keys and trailing tokens fail) whose strings may be long;</li>
 *   <li>{@link #settings(boolean)}: strict binding of settings files to records (snake_case keys, unknown keys, nulls for
 *       primitives, duplicates and scalar coercions fail) with enums spelled as their {@linkplain #spelling config names}.</li>
 * </ul>
 */
public final class Mappers {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ObjectMapper JSON_PRETTY = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper JSON_SORTED =
            new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
    private static final ObjectMapper SNAKE_CASE =
            new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final ObjectMapper YAML_WRITER = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private Mappers() {}

    /** Jackson's defaults (shared). */
    public static ObjectMapper json() {
        return JSON;
    }

    /** Jackson's defaults with indented output (shared). */
    public static ObjectMapper jsonPretty() {
        return JSON_PRETTY;
    }

    /** Jackson's defaults, map entries written in key order (files compared or diffed across runs; shared). */
    public static ObjectMapper jsonSortedKeys() {
        return JSON_SORTED;
    }

    /** Jackson's defaults with snake_case property names: records turned into trees keyed as config keys (shared). */
    public static ObjectMapper snakeCase() {
        return SNAKE_CASE;
    }

    /** Lenient YAML (shared). */
    public static ObjectMapper yaml() {
        return YAML;
    }

    /** YAML output without a document start marker, strings quoted only where YAML needs it (shared). */
    public static ObjectMapper yamlWriter() {
        return YAML_WRITER;
    }

    /**
     * Strict JSON for a binary format's header: duplicate keys and trailing tokens fail, and a string may be as long
     * as {@code maxStringLength} (Jackson's default 20 M-char cap would call a valid header corrupt).
     */
    public static ObjectMapper header(long maxStringLength) {
        return new ObjectMapper(JsonFactory.builder()
                        .streamReadConstraints(StreamReadConstraints.builder()
                                .maxStringLength((int) maxStringLength)
                                .build())
                        .build())
                .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }

    /**
     * A new mapper binding settings files (YAML, or JSON when {@code json}: YAML forbids the tab indentation JSON
     * writers often use) to records: snake_case keys; unknown keys, null for a primitive, trailing tokens, duplicate
     * keys, 1.5 for an integer and scalar coercions ("1" for 1) fail; an enum is read and written as its
     * {@link #spelling} (or a {@link JsonAlias} of the constant), anything else fails with an
     * {@link InvalidFormatException} whose target type is the enum.
     */
    public static ObjectMapper settings(boolean json) {
        ObjectMapper m = json ? new ObjectMapper() : new ObjectMapper(new YAMLFactory());
        return m.setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT) // r: 1.5 is an error, not 1
                .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .registerModule(SPELLED_ENUMS);
    }

    /** The config spelling of an enum constant: its name in lower case ({@code PROMPT_COMPLETION}: prompt_completion). */
    public static String spelling(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    /** The spellings of every constant of {@code type}, in declaration order. */
    public static List<String> spellings(Class<?> type) {
        List<String> out = new ArrayList<>();
        for (Object c : type.getEnumConstants()) {
            out.add(spelling((Enum<?>) c));
        }
        return out;
    }

    /** The constant of {@code type} spelled {@code text} (its spelling or one of its {@link JsonAlias} names), or null. */
    static <E extends Enum<E>> E bySpelling(Class<E> type, String text) {
        for (E c : type.getEnumConstants()) {
            if (spelling(c).equals(text)) {
                return c;
            }
        }
        for (E c : type.getEnumConstants()) {
            try {
                JsonAlias alias = type.getField(c.name()).getAnnotation(JsonAlias.class);
                if (alias != null && List.of(alias.value()).contains(text)) {
                    return c;
                }
            } catch (NoSuchFieldException e) {
                throw new IllegalStateException(e);
            }
        }
        return null;
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static final SimpleModule SPELLED_ENUMS = new SimpleModule("paft-spelled-enums") {
        @Override
        public void setupModule(SetupContext context) {
            super.setupModule(context);
            context.addDeserializers(new Deserializers.Base() {
                @Override
                public JsonDeserializer<?> findEnumDeserializer(
                        Class<?> type, DeserializationConfig config, BeanDescription desc) {
                    return new SpelledEnum(type);
                }
            });
        }
    }.addSerializer(Enum.class, new StdSerializer<Enum>(Enum.class) {
        @Override
        public void serialize(Enum value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            gen.writeString(spelling(value));
        }
    });

    /** Reads an enum from its spelling; any other value (another string, a number, a list) fails naming the enum type. */
    private static final class SpelledEnum<E extends Enum<E>> extends JsonDeserializer<E> {
        private final Class<E> type;

        SpelledEnum(Class<E> type) {
            this.type = type;
        }

        @Override
        public E deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonToken t = p.currentToken();
            String text = t == JsonToken.START_ARRAY || t == JsonToken.START_OBJECT
                    ? ctxt.readTree(p).toString()
                    : p.getText();
            E e = t == JsonToken.VALUE_STRING ? bySpelling(type, text) : null;
            if (e == null) {
                throw InvalidFormatException.from(p, "not one of " + spellings(type), text, type);
            }
            return e;
        }
    }
}
