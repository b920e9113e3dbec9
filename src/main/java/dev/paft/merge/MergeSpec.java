package dev.paft.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.paft.config.MergeConfig;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One merge, whatever way it came in (paft YAML {@code merge:} section, mergekit YAML, flags):
 * method, base, inputs with their raw parameter settings, global parameters, dtypes, shard size.
 * Relative paths resolve against the working directory, then against {@code relativeTo}.
 */
public record MergeSpec(String method, String base, List<Input> models, Map<String, Object> parameters,
                        String dtype, String outDtype, String shardSize, Path relativeTo) {

    /** One input: a model or PEFT adapter directory and its raw per-input parameters. */
    public record Input(String model, Map<String, Object> parameters) {}

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private static final Set<String> MERGEKIT_KEYS = Set.of("merge_method", "base_model", "models", "parameters",
            "dtype", "out_dtype", "tokenizer_source", "slices", "tokenizer", "chat_template", "name");

    /** From the paft config's {@code merge:} section. */
    public static MergeSpec fromPaft(MergeConfig c, Path configFile) {
        List<Input> in = new ArrayList<>();
        if (c.models() != null) {
            for (MergeConfig.MergeInput m : c.models()) {
                in.add(new Input(m.model(), m.parameters() == null ? Map.of() : m.parameters()));
            }
        }
        return new MergeSpec(c.method(), c.base(), in, c.parameters() == null ? Map.of() : c.parameters(),
                c.dtype(), c.outDtype(), c.shardSize(), configFile == null ? null : configFile.toAbsolutePath().getParent());
    }

    /** True when a config file is a mergekit YAML (has a top-level {@code merge_method}). */
    public static boolean isMergekit(Path file) {
        Map<String, Object> m = readMap(file);
        return m.containsKey("merge_method");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> readMap(Path file) {
        if (!Files.isRegularFile(file)) {
            throw PaftException.usage("config file " + file + " not found");
        }
        try {
            Object o = YAML.readValue(file.toFile(), Object.class);
            if (o == null) {
                return Map.of();
            }
            if (!(o instanceof Map)) {
                throw PaftException.usage(file + ": the config must be a mapping");
            }
            return (Map<String, Object>) o;
        } catch (IOException e) {
            throw PaftException.usage(file + ": cannot parse: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** From a mergekit YAML ({@code merge_method}, {@code base_model}, {@code models}, ...). */
    @SuppressWarnings("unchecked")
    public static MergeSpec fromMergekit(Path file) {
        Map<String, Object> m = readMap(file);
        for (String k : m.keySet()) {
            if (!MERGEKIT_KEYS.contains(k)) {
                throw PaftException.usage(file + ": unknown mergekit key '" + k + "' (known: merge_method, base_model, models, parameters, dtype, out_dtype, tokenizer_source)");
            }
        }
        if (m.get("slices") != null) {
            throw PaftException.usage(file + ": 'slices' (layer-range merges, frankenmerges) is not supported by paft merge; list whole 'models' instead");
        }
        Object ts = m.get("tokenizer_source");
        if (ts != null && !"base".equals(ts)) {
            throw PaftException.usage(file + ": tokenizer_source: " + ts + " is not supported (only 'base': the tokenizer is copied from the base model)");
        }
        if (m.get("tokenizer") != null) {
            throw PaftException.usage(file + ": 'tokenizer' (vocabulary merging) is not supported; the base model's tokenizer is copied");
        }
        if (m.get("chat_template") != null) {
            throw PaftException.usage(file + ": 'chat_template' is not supported; the base model's tokenizer_config.json is copied");
        }
        List<Input> in = new ArrayList<>();
        Object models = m.get("models");
        if (models != null && !(models instanceof List)) {
            throw PaftException.usage(file + ": 'models' must be a list of {model, parameters}");
        }
        if (models != null) {
            int i = 0;
            for (Object e : (List<Object>) models) {
                if (!(e instanceof Map)) {
                    throw PaftException.usage(file + ": models[" + i + "] must be a mapping with 'model'");
                }
                Map<String, Object> em = (Map<String, Object>) e;
                for (String k : em.keySet()) {
                    if (!k.equals("model") && !k.equals("parameters")) {
                        throw PaftException.usage(file + ": models[" + i + "]: unknown key '" + k + "' (known: model, parameters)");
                    }
                }
                if (!(em.get("model") instanceof String s)) {
                    throw PaftException.usage(file + ": models[" + i + "].model must be a path");
                }
                Object p = em.get("parameters");
                if (p != null && !(p instanceof Map)) {
                    throw PaftException.usage(file + ": models[" + i + "].parameters must be a mapping");
                }
                in.add(new Input(s, p == null ? Map.of() : (Map<String, Object>) p));
                i++;
            }
        }
        Object params = m.get("parameters");
        if (params != null && !(params instanceof Map)) {
            throw PaftException.usage(file + ": 'parameters' must be a mapping");
        }
        return new MergeSpec(str(m.get("merge_method")), str(m.get("base_model")), in,
                params == null ? Map.of() : (Map<String, Object>) params, str(m.get("dtype")), str(m.get("out_dtype")),
                null, file.toAbsolutePath().getParent());
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }

    /** This merge as a mergekit YAML (written beside the output as merge_config.yaml). */
    public String toMergekitYaml(List<String> resolvedModels, String resolvedBase) {
        Map<String, Object> root = new LinkedHashMap<>();
        List<Object> ms = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("model", resolvedModels.get(i));
            if (!models.get(i).parameters().isEmpty()) {
                e.put("parameters", models.get(i).parameters());
            }
            ms.add(e);
        }
        root.put("models", ms);
        root.put("merge_method", method);
        if (resolvedBase != null) {
            root.put("base_model", resolvedBase);
        }
        if (!parameters.isEmpty()) {
            root.put("parameters", parameters);
        }
        if (dtype != null) {
            root.put("dtype", dtype);
        }
        if (outDtype != null) {
            root.put("out_dtype", outDtype);
        }
        try {
            return "# Written by paft merge; run again with: paft merge merge_config.yaml OUT_DIR\n" + YAML.writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Resolves an input path: as given (working directory), else relative to the config file. */
    public Path resolve(String p, String what) {
        if (p == null || p.isBlank()) {
            throw PaftException.usage(what + ": no path given");
        }
        Path direct = Path.of(p);
        if (Files.exists(direct) || relativeTo == null || direct.isAbsolute()) {
            return direct;
        }
        Path rel = relativeTo.resolve(p);
        return Files.exists(rel) ? rel : direct;
    }
}
