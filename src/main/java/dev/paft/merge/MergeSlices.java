package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * mergekit's layer-range forms, as read from a mergekit YAML: {@code slices:} (each output slice
 * lists {@code sources}, each a model with a {@code layer_range: [start, end)} and optional
 * {@code parameters}; the slice may have its own {@code base_model} and {@code parameters}) and
 * {@code modules:} (one entry per architecture module, each with {@code slices} or {@code models}
 * and module-level {@code parameters}). mergekit/config.py ({@code InputSliceDefinition},
 * {@code OutputSliceDefinition}, {@code OutputModuleDefinition}).
 *
 * <p>A {@code modules:} entry with {@code models} becomes one slice over every layer of each model,
 * with an unlisted {@code base_model} appended as one more source, as mergekit's planner normalizes it
 * (mergekit/plan.py, {@code normalize_config}); the layer counts are only known once the models are
 * opened, so such a slice has {@code end = -1} ("all layers") until {@link SlicePlan} fills it in.
 *
 * @param slices the output slices in order (their layers are stacked in this order)
 * @param moduleParameters the module's {@code parameters} ({@code modules:} form), between the
 *     slice's and the global ones in precedence; empty otherwise
 * @param module the module name ({@code default} for single-module models), or null ({@code slices:})
 * @param fromModels the slices came from a {@code modules: {NAME: {models: ...}}} entry
 */
public record MergeSlices(List<Slice> slices, Map<String, Object> moduleParameters, String module, boolean fromModels) {

    /** One source of an output slice: a model (or MODEL+LORA), its layers {@code [start, end)}, its parameters. */
    public record Source(String model, int start, int end, Map<String, Object> parameters) {}

    /** One output slice: its sources (all with the same number of layers), its base model (or null), parameters. */
    public record Slice(List<Source> sources, String base, Map<String, Object> parameters) {}

    /** The module name mergekit gives a single-module architecture (mergekit/architecture/json_definitions.py). */
    public static final String DEFAULT_MODULE = "default";

    /** Every model named by a source, in order of first appearance. */
    public List<String> models() {
        List<String> out = new ArrayList<>();
        for (Slice s : slices) {
            for (Source src : s.sources()) {
                if (!out.contains(src.model())) {
                    out.add(src.model());
                }
            }
            if (s.base() != null && !out.contains(s.base())) {
                out.add(s.base());
            }
        }
        return out;
    }

    /** Parses a {@code slices:} list ({@code where} names it in errors). */
    @SuppressWarnings("unchecked")
    static List<Slice> parseSlices(Object raw, String where) {
        if (!(raw instanceof List<?> list) || list.isEmpty()) {
            throw PaftException.usage(where + ": 'slices' must be a non-empty list of {sources: [...]}");
        }
        List<Slice> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String w = where + ": slices[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> m)) {
                throw PaftException.usage(w + " must be a mapping with 'sources'");
            }
            for (Object k : m.keySet()) {
                if (!List.of("sources", "base_model", "parameters", "residual_weight")
                        .contains(String.valueOf(k))) {
                    throw PaftException.usage(
                            w + ": unknown key '" + k + "' (known: sources, base_model, parameters, residual_weight)");
                }
            }
            if (!(m.get("sources") instanceof List<?> srcs) || srcs.isEmpty()) {
                throw PaftException.usage(w + ".sources must be a non-empty list of {model, layer_range}");
            }
            List<Source> sources = new ArrayList<>();
            for (int j = 0; j < srcs.size(); j++) {
                String ws = w + ".sources[" + j + "]";
                if (!(srcs.get(j) instanceof Map<?, ?> sm)) {
                    throw PaftException.usage(ws + " must be a mapping with 'model' and 'layer_range'");
                }
                for (Object k : sm.keySet()) {
                    if (!List.of("model", "layer_range", "parameters").contains(String.valueOf(k))) {
                        throw PaftException.usage(
                                ws + ": unknown key '" + k + "' (known: model, layer_range, parameters)");
                    }
                }
                if (!(sm.get("model") instanceof String model) || model.isBlank()) {
                    throw PaftException.usage(ws + ".model must be a path");
                }
                int[] range = layerRange(sm.get("layer_range"), ws);
                sources.add(new Source(model, range[0], range[1], params(sm.get("parameters"), ws)));
            }
            int len = sources.get(0).end() - sources.get(0).start();
            for (Source s : sources) {
                if (s.end() - s.start() != len) {
                    throw PaftException.usage(
                            w + ": all sources of a slice must have the same number of layers (layer_range "
                                    + "[" + sources.get(0).start() + ", "
                                    + sources.get(0).end() + "] has " + len + ", " + s.model() + "'s ["
                                    + s.start() + ", " + s.end() + "] has " + (s.end() - s.start()) + ")");
                }
            }
            Object b = m.get("base_model");
            if (b != null && !(b instanceof String)) {
                throw PaftException.usage(w + ".base_model must be a path");
            }
            out.add(new Slice(List.copyOf(sources), (String) b, params(m.get("parameters"), w)));
        }
        return List.copyOf(out);
    }

    /** Parses a {@code modules:} mapping: exactly one module (paft merges single-module models). */
    @SuppressWarnings("unchecked")
    static MergeSlices parseModules(Object raw, String where) {
        if (!(raw instanceof Map<?, ?> mods) || mods.isEmpty()) {
            throw PaftException.usage(
                    where + ": 'modules' must be a mapping of module name to {slices or models, parameters}");
        }
        if (mods.size() != 1) {
            throw PaftException.usage(where + ": 'modules' names " + mods.size() + " modules " + mods.keySet()
                    + "; paft merges single-module models (text decoders), whose one module mergekit calls '"
                    + DEFAULT_MODULE
                    + "' (multi-module vision-language architectures are not supported)");
        }
        var e = mods.entrySet().iterator().next();
        String name = String.valueOf(e.getKey());
        String w = where + ": modules." + name;
        if (!DEFAULT_MODULE.equals(name)) {
            throw PaftException.usage(w + ": unknown module '" + name
                    + "'; a single-module model (every text decoder) has the one module '" + DEFAULT_MODULE
                    + "' (multi-module vision-language architectures are not supported)");
        }
        if (!(e.getValue() instanceof Map<?, ?> m)) {
            throw PaftException.usage(w + " must be a mapping with 'slices' or 'models'");
        }
        for (Object k : m.keySet()) {
            if (!List.of("slices", "models", "parameters", "name").contains(String.valueOf(k))) {
                throw PaftException.usage(w + ": unknown key '" + k + "' (known: slices, models, parameters)");
            }
        }
        boolean hasSlices = m.get("slices") != null;
        boolean hasModels = m.get("models") != null;
        if (hasSlices == hasModels) {
            throw PaftException.usage(w + ": give either 'slices' or 'models' (as mergekit requires)");
        }
        Map<String, Object> mp = params(m.get("parameters"), w);
        if (hasSlices) {
            return new MergeSlices(parseSlices(m.get("slices"), w), mp, name, false);
        }
        if (!(m.get("models") instanceof List<?> models) || models.isEmpty()) {
            throw PaftException.usage(w + ".models must be a non-empty list of {model, parameters}");
        }
        List<Source> sources = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            String ws = w + ".models[" + i + "]";
            if (!(models.get(i) instanceof Map<?, ?> em) || !(em.get("model") instanceof String model)) {
                throw PaftException.usage(ws + " must be a mapping with 'model'");
            }
            for (Object k : em.keySet()) {
                if (!List.of("model", "parameters").contains(String.valueOf(k))) {
                    throw PaftException.usage(ws + ": unknown key '" + k + "' (known: model, parameters)");
                }
            }
            sources.add(new Source(model, 0, -1, params(em.get("parameters"), ws)));
        }
        return new MergeSlices(List.of(new Slice(List.copyOf(sources), null, Map.of())), mp, name, true);
    }

    private static int[] layerRange(Object raw, String where) {
        if (!(raw instanceof List<?> l)
                || l.size() != 2
                || !(l.get(0) instanceof Integer a)
                || !(l.get(1) instanceof Integer b)) {
            throw PaftException.usage(
                    where + ".layer_range must be [start, end] (two integers, end exclusive), got " + raw);
        }
        if (a < 0 || b <= a) {
            throw PaftException.usage(where + ".layer_range [" + a + ", " + b
                    + "] is empty or negative (end is exclusive: [0, 2] is layers 0 and 1)");
        }
        return new int[] {a, b};
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> params(Object raw, String where) {
        if (raw == null) {
            return Map.of();
        }
        if (!(raw instanceof Map)) {
            throw PaftException.usage(where + ".parameters must be a mapping");
        }
        return new LinkedHashMap<>((Map<String, Object>) raw);
    }

    /** As mergekit YAML ({@code slices:} or {@code modules:}), with model paths as {@code paths} maps them. */
    Map<String, Object> toYaml(Function<String, String> paths) {
        List<Object> sl = new ArrayList<>();
        for (Slice s : slices) {
            Map<String, Object> so = new LinkedHashMap<>();
            List<Object> srcs = new ArrayList<>();
            for (Source src : s.sources()) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("model", paths.apply(src.model()));
                if (!fromModels) {
                    e.put("layer_range", List.of(src.start(), src.end()));
                }
                if (!src.parameters().isEmpty()) {
                    e.put("parameters", src.parameters());
                }
                srcs.add(e);
            }
            if (fromModels) {
                Map<String, Object> mod = new LinkedHashMap<>();
                mod.put("models", srcs);
                if (!moduleParameters.isEmpty()) {
                    mod.put("parameters", moduleParameters);
                }
                return Map.of("modules", Map.of(module, mod));
            }
            so.put("sources", srcs);
            if (s.base() != null) {
                so.put("base_model", paths.apply(s.base()));
            }
            if (!s.parameters().isEmpty()) {
                so.put("parameters", s.parameters());
            }
            sl.add(so);
        }
        if (module == null) {
            return Map.of("slices", sl);
        }
        Map<String, Object> mod = new LinkedHashMap<>();
        mod.put("slices", sl);
        if (!moduleParameters.isEmpty()) {
            mod.put("parameters", moduleParameters);
        }
        return Map.of("modules", Map.of(module, mod));
    }
}
