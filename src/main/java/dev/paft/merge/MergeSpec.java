package dev.paft.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.config.MergeConfig;
import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * One merge, whatever way it came in (paft YAML {@code merge:} section, mergekit YAML, flags):
 * method, base, inputs with their raw parameter settings, global parameters, dtypes, shard size.
 * Relative paths resolve against the working directory, then against {@code relativeTo}.
 */
public record MergeSpec(
        String method,
        String base,
        List<Input> models,
        Map<String, Object> parameters,
        String dtype,
        String outDtype,
        String shardSize,
        Path relativeTo,
        MergeSlices slices,
        TokenizerMerge.Spec tokenizer) {

    /** A merge of whole models ({@code models:}), the base's tokenizer copied. */
    public MergeSpec(
            String method,
            String base,
            List<Input> models,
            Map<String, Object> parameters,
            String dtype,
            String outDtype,
            String shardSize,
            Path relativeTo) {
        this(method, base, models, parameters, dtype, outDtype, shardSize, relativeTo, null, null);
    }

    /** This spec with the command line's overrides; the layout ({@code slices}, {@code modules}) and tokenizer kept. */
    public MergeSpec withFlags(
            String method,
            String base,
            List<Input> models,
            Map<String, Object> parameters,
            String dtype,
            String outDtype,
            String shardSize) {
        if (slices != null && !models.isEmpty() && models != this.models) {
            throw PaftException.usage("--model replaces a config's 'models', but this config has "
                    + (slices.module() == null ? "'slices'" : "'modules'") + "; edit the config instead");
        }
        return toBuilder()
                .method(method)
                .base(base)
                .inputs(models)
                .parameters(parameters)
                .dtype(dtype)
                .outDtype(outDtype)
                .shardSize(shardSize)
                .build();
    }

    /** Every model the merge names (models, slice sources), not the base; for output checks and counts. */
    public List<String> modelPaths() {
        if (slices == null) {
            return models.stream().map(Input::model).toList();
        }
        List<String> out = new ArrayList<>(slices.models());
        return out;
    }

    /** One input: a model or PEFT adapter directory and its raw per-input parameters. */
    public record Input(String model, Map<String, Object> parameters) {}

    /**
     * A spec built by name rather than by position, e.g.
     * {@code MergeSpec.builder("ties", base).input(dir, Map.of("weight", 1.0)).shardSize("5GB").build()}:
     * unset parameters are empty, unset dtypes, shard size and {@code relativeTo} are null (the defaults).
     */
    public static Builder builder(String method, String base) {
        return new Builder().method(method).base(base);
    }

    /** A builder holding this spec's values, to change some of them. */
    public Builder toBuilder() {
        return new Builder()
                .method(method)
                .base(base)
                .inputs(models)
                .parameters(parameters)
                .dtype(dtype)
                .outDtype(outDtype)
                .shardSize(shardSize)
                .relativeTo(relativeTo)
                .slices(slices)
                .tokenizer(tokenizer);
    }

    /** Named construction of a {@link MergeSpec}; see {@link #builder}. */
    public static final class Builder {
        private String method;
        private String base;
        private final List<Input> models = new ArrayList<>();
        private Map<String, Object> parameters = Map.of();
        private String dtype;
        private String outDtype;
        private String shardSize;
        private Path relativeTo;
        private MergeSlices slices;
        private TokenizerMerge.Spec tokenizer;

        private Builder() {}

        public Builder method(String v) {
            method = v;
            return this;
        }

        public Builder base(String v) {
            base = v;
            return this;
        }

        /** Appends one input. */
        public Builder input(String model, Map<String, Object> params) {
            return input(new Input(model, params));
        }

        /** Appends one input. */
        public Builder input(Input in) {
            models.add(in);
            return this;
        }

        /** Replaces the inputs. */
        public Builder inputs(List<Input> v) {
            models.clear();
            models.addAll(v);
            return this;
        }

        /** The global parameters (null: none). */
        public Builder parameters(Map<String, Object> v) {
            parameters = v == null ? Map.of() : v;
            return this;
        }

        public Builder dtype(String v) {
            dtype = v;
            return this;
        }

        public Builder outDtype(String v) {
            outDtype = v;
            return this;
        }

        public Builder shardSize(String v) {
            shardSize = v;
            return this;
        }

        /** The directory relative input paths are also tried against (a config file's). */
        public Builder relativeTo(Path v) {
            relativeTo = v;
            return this;
        }

        /** A {@code slices:} / {@code modules:} layout (null: a merge of whole models). */
        public Builder slices(MergeSlices v) {
            slices = v;
            return this;
        }

        /** The {@code tokenizer_source} / {@code tokenizer:} / {@code chat_template} settings (null: the base's copied). */
        public Builder tokenizer(TokenizerMerge.Spec v) {
            tokenizer = v;
            return this;
        }

        public MergeSpec build() {
            return new MergeSpec(
                    method,
                    base,
                    List.copyOf(models),
                    parameters,
                    dtype,
                    outDtype,
                    shardSize,
                    relativeTo,
                    slices,
                    tokenizer);
        }
    }

    static final ObjectMapper YAML = Mappers.yamlWriter();

    private static final Set<String> MERGEKIT_KEYS = Set.of(
            "merge_method",
            "base_model",
            "models",
            "parameters",
            "dtype",
            "out_dtype",
            "tokenizer_source",
            "slices",
            "modules",
            "tokenizer",
            "chat_template",
            "name",
            "paft_parameters");

    /**
     * The key, at the top level and in a {@code models} entry, holding paft-only parameter values
     * that mergekit has no spelling for ({@code seed}, {@code consensus}, {@code rescale: density}
     * or {@code l1}, string values). mergekit ignores unknown keys (pydantic's default), so
     * merge_config.yaml stays runnable by mergekit; paft lays these values over {@code parameters}.
     */
    public static final String PAFT_PARAMETERS = "paft_parameters";

    /** Global parameters only paft has: written under {@link #PAFT_PARAMETERS}. */
    static final Set<String> PAFT_ONLY = Set.of("seed", "consensus");

    /** From the paft config's {@code merge:} section. */
    public static MergeSpec fromPaft(MergeConfig c, Path configFile) {
        Builder b = builder(c.method(), c.base())
                .parameters(c.parameters())
                .dtype(c.dtype())
                .outDtype(c.outDtype())
                .shardSize(c.shardSize())
                .relativeTo(
                        configFile == null ? null : configFile.toAbsolutePath().getParent());
        if (c.models() != null) {
            for (MergeConfig.MergeInput m : c.models()) {
                b.input(m.model(), m.parameters() == null ? Map.of() : m.parameters());
            }
        }
        return b.build();
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
            throw PaftException.usage(file + ": cannot parse: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** From a mergekit YAML ({@code merge_method}, {@code base_model}, {@code models}, ...). */
    @SuppressWarnings("unchecked")
    public static MergeSpec fromMergekit(Path file) {
        Map<String, Object> m = readMap(file);
        for (String k : m.keySet()) {
            if (!MERGEKIT_KEYS.contains(k)) {
                throw PaftException.usage(file + ": unknown mergekit key '" + k
                        + "' (known: merge_method, base_model, models, slices, modules, "
                        + "parameters, dtype, out_dtype, tokenizer_source, tokenizer, chat_template)");
            }
        }
        int forms = (m.get("models") != null ? 1 : 0)
                + (m.get("slices") != null ? 1 : 0)
                + (m.get("modules") != null ? 1 : 0);
        if (forms > 1) {
            throw PaftException.usage(
                    file + ": give exactly one of 'models', 'slices' or 'modules' (as mergekit requires)");
        }
        MergeSlices layout = null;
        if (m.get("slices") != null) {
            layout = new MergeSlices(MergeSlices.parseSlices(m.get("slices"), file.toString()), Map.of(), null, false);
        } else if (m.get("modules") != null) {
            layout = MergeSlices.parseModules(m.get("modules"), file.toString());
        }
        TokenizerMerge.Spec tok = TokenizerMerge.parse(m, file.toString());
        Builder b = builder(str(m.get("merge_method")), str(m.get("base_model")))
                .slices(layout)
                .tokenizer(tok);
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
                    if (!k.equals("model") && !k.equals("parameters") && !k.equals(PAFT_PARAMETERS)) {
                        throw PaftException.usage(file + ": models[" + i + "]: unknown key '" + k
                                + "' (known: model, parameters, " + PAFT_PARAMETERS + ")");
                    }
                }
                if (!(em.get("model") instanceof String s)) {
                    throw PaftException.usage(file + ": models[" + i + "].model must be a path");
                }
                b.input(s, overlay(em.get("parameters"), em.get(PAFT_PARAMETERS), file + ": models[" + i + "]"));
                i++;
            }
        }
        return b.parameters(overlay(m.get("parameters"), m.get(PAFT_PARAMETERS), file.toString()))
                .dtype(dtypeName(m.get("dtype")))
                .outDtype(dtypeName(m.get("out_dtype")))
                .relativeTo(file.toAbsolutePath().getParent())
                .build();
    }

    /** {@code parameters} with {@code paft_parameters} laid over it (each a mapping or absent). */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> overlay(Object params, Object paft, String where) {
        if (params != null && !(params instanceof Map)) {
            throw PaftException.usage(where + ": 'parameters' must be a mapping");
        }
        if (paft != null && !(paft instanceof Map)) {
            throw PaftException.usage(where + ": '" + PAFT_PARAMETERS + "' must be a mapping");
        }
        if (paft == null) {
            return params == null ? Map.of() : (Map<String, Object>) params;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        if (params != null) {
            out.putAll((Map<String, Object>) params);
        }
        out.putAll((Map<String, Object>) paft);
        return out;
    }

    /** A dtype as mergekit's {@code dtype_from_name} reads it: an optional {@code torch.} prefix (mergekit/common.py). */
    private static String dtypeName(Object o) {
        String s = str(o);
        return s != null && s.startsWith("torch.") ? s.substring("torch.".length()) : s;
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }

    /**
     * This merge as a mergekit YAML (written beside the output as merge_config.yaml) that mergekit
     * can run: dtypes by torch name, and under {@code parameters} only values mergekit accepts
     * (numbers, booleans, gradients, filters). What has no mergekit spelling goes under
     * {@link #PAFT_PARAMETERS}, which mergekit ignores and paft reads back: {@code seed},
     * {@code consensus}, string values, and for the DARE methods the rescale rule paft applied
     * ({@code density}, paft's default, or {@code l1}), since mergekit's {@code rescale: true} is L1.
     *
     * @param models the inputs as written ({@code MODEL+LORA} for a model with an adapter), in order
     * @param random the method draws DARE masks (has a seed; its {@code rescale: true} means 1/density)
     * @param seed the seed used when {@code random} (the --seed flag, the config's, or the default)
     */
    public String toMergekitYaml(List<String> resolvedModels, String resolvedBase, boolean random, Long seed) {
        return toMergekitYaml(resolvedModels, resolvedBase, random, random, seed);
    }

    /**
     * As {@link #toMergekitYaml(List, String, boolean, Long)}; {@code densityRescale}: the method's
     * {@code rescale: true} is 1/density (DARE), recorded under paft_parameters (della's is
     * mergekit's L1, written as it is).
     */
    public String toMergekitYaml(
            List<String> resolvedModels, String resolvedBase, boolean random, boolean densityRescale, Long seed) {
        Map<String, Object> root = new LinkedHashMap<>();
        List<Object> ms = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("model", resolvedModels.get(i));
            Map<String, Object> mk = new LinkedHashMap<>();
            Map<String, Object> po = new LinkedHashMap<>();
            models.get(i).parameters().forEach((k, v) -> (containsString(v) ? po : mk).put(k, v));
            if (!mk.isEmpty()) {
                e.put("parameters", mk);
            }
            if (!po.isEmpty()) {
                e.put(PAFT_PARAMETERS, po);
            }
            ms.add(e);
        }
        if (slices == null) {
            root.put("models", ms);
        } else {
            root.putAll(slices.toYaml(p -> resolveRef(p, "slices").display()));
        }
        root.put("merge_method", method);
        if (resolvedBase != null) {
            root.put("base_model", resolvedBase);
        }
        Map<String, Object> mk = new LinkedHashMap<>();
        Map<String, Object> po = new LinkedHashMap<>();
        for (var e : parameters.entrySet()) {
            String k = e.getKey();
            Object v = e.getValue();
            if (PAFT_ONLY.contains(k)) {
                po.put(k, v);
            } else if (k.equals("rescale") && (v instanceof String || (densityRescale && Boolean.TRUE.equals(v)))) {
                mk.put(k, !"false".equals(String.valueOf(v)));
                po.put(k, Boolean.TRUE.equals(v) ? "density" : v);
            } else if (containsString(v)) {
                po.put(k, v);
            } else {
                mk.put(k, v);
            }
        }
        if (random) {
            if (densityRescale && !parameters.containsKey("rescale")) {
                po.put("rescale", "density"); // paft's default; mergekit's default rescale is L1
            }
            po.put("seed", seed);
        }
        if (!mk.isEmpty()) {
            root.put("parameters", mk);
        }
        if (dtype != null) {
            root.put("dtype", DType.parseUser(dtype, "dtype").torchName());
        }
        if (outDtype != null) {
            root.put("out_dtype", DType.parseUser(outDtype, "out_dtype").torchName());
        }
        if (tokenizer != null) {
            root.putAll(tokenizerYaml());
        }
        if (!po.isEmpty()) {
            root.put(PAFT_PARAMETERS, po);
        }
        try {
            return "# Written by paft merge; run again with: paft merge merge_config.yaml OUT_DIR (or mergekit-yaml;\n"
                    + "# mergekit ignores " + PAFT_PARAMETERS + ", the values it has no spelling for)\n"
                    + YAML.writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code tokenizer} (its source, tokens and padding, model paths made absolute) and {@code chat_template}. */
    private Map<String, Object> tokenizerYaml() {
        Map<String, Object> out = new LinkedHashMap<>();
        UnaryOperator<String> abs = p -> p.equals("base") || p.equals("union")
                ? p
                : resolveRef(p, "tokenizer").display();
        if (tokenizer.source() != null) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("source", abs.apply(tokenizer.source()));
            if (!tokenizer.tokens().isEmpty()) {
                Map<String, Object> toks = new LinkedHashMap<>();
                tokenizer.tokens().forEach((k, v) -> {
                    Map<String, Object> e = new LinkedHashMap<>();
                    switch (v.kind()) {
                        case MODEL -> e.put("source", abs.apply(v.model()));
                        case ZERO -> e.put("source", Map.of("kind", "zero"));
                        case MODEL_TOKEN -> {
                            Map<String, Object> s = new LinkedHashMap<>();
                            s.put("kind", "model_token");
                            s.put("model", abs.apply(v.model()));
                            if (v.tokenId() != null) {
                                s.put("token_id", v.tokenId());
                            } else {
                                s.put("token", v.token());
                            }
                            e.put("source", s);
                        }
                        default -> {}
                    }
                    if (v.force()) {
                        e.put("force", true);
                    }
                    toks.put(k, e);
                });
                t.put("tokens", toks);
            }
            if (tokenizer.padToMultipleOf() != null) {
                t.put("pad_to_multiple_of", tokenizer.padToMultipleOf());
            }
            out.put("tokenizer", t);
        }
        if (tokenizer.chatTemplate() != null) {
            out.put("chat_template", tokenizer.chatTemplate());
        }
        return out;
    }

    /** True when a parameter setting holds a string value (filters' names aside), which mergekit rejects. */
    static boolean containsString(Object v) {
        if (v instanceof String) {
            return true;
        }
        if (v instanceof List<?> l) {
            return l.stream().anyMatch(MergeSpec::containsString);
        }
        if (v instanceof Map<?, ?> m) {
            return containsString(m.get("value"));
        }
        return false;
    }

    /**
     * Resolves a model reference: a directory ({@link #resolve}), or mergekit's
     * {@code MODEL+LORA} (a model with a PEFT adapter applied) when the whole string is no existing
     * path and splits at one '+' (mergekit/common.py, {@code ModelReference}).
     */
    public MergeSource.Ref resolveRef(String p, String what) {
        Path whole = resolve(p, what);
        if (!p.contains("+") || Files.exists(whole)) {
            return new MergeSource.Ref(whole, null);
        }
        String[] parts = p.split("\\+", -1);
        if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank()) {
            throw PaftException.usage(what + ": '" + p
                    + "' is not a directory, nor MODEL+LORA (one '+' between a model and a PEFT adapter directory)");
        }
        return new MergeSource.Ref(resolve(parts[0].trim(), what), resolve(parts[1].trim(), what));
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
