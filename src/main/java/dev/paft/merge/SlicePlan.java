package dev.paft.merge;

import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.PeftAdapter;
import dev.paft.io.TensorInfo;
import dev.paft.io.TensorSpec;
import dev.paft.io.TensorStore;
import dev.paft.merge.MergePlan.Job;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.regex.Matcher;

/**
 * The plan of a {@code slices:} / {@code modules:} merge (frankenmerges, layer-range merges), as
 * mergekit's planner builds it (mergekit/plan.py, {@code plan_module}, {@code plan_slice},
 * {@code plan_layer}, {@code plan_tensor}):
 *
 * <ul>
 *   <li>the output layers are the slices' layers stacked in order: output layer {@code k} of slice
 *       {@code s} at offset {@code i} is merged from each source's layer {@code start + i}; the output
 *       config.json's {@code num_hidden_layers} is the total;</li>
 *   <li>the tensors before the layers (the embeddings) come from the first slice's sources, the ones
 *       after (final norm, {@code lm_head}) from the last slice's, under their own names, with that
 *       slice's parameters at {@code t = 0};</li>
 *   <li>a layer at offset {@code i} of an {@code n}-layer slice has {@code t = i / (n - 1)} ({@code 1}
 *       when {@code n = 1}) for gradients, so a gradient runs over each slice's own layers;</li>
 *   <li>parameters resolve as mergekit's {@code ConfigReader.parameter} (mergekit/config.py): a
 *       per-input parameter from the first source of the slice with that model that sets it, then the
 *       slice's {@code parameters}, the module's, the global ones, the method default; a global one from
 *       the slice, the module, the globals, the default;</li>
 *   <li>the base of a slice is its {@code base_model}, else the config's, read from the slice's own
 *       sources at their layers (a method that needs a base needs it among every slice's sources, as
 *       mergekit's methods look it up there); as with {@code models:}, a source that is the base is no
 *       input of a delta method or slerp.</li>
 * </ul>
 *
 * Tensors outside the layers are "before" when their name holds {@code embed} (not {@code embed_out})
 * or {@code wte}/{@code wpe}, else "after": mergekit reads this from its architecture files; paft has
 * none, and every decoder it merges names them this way. Plain PEFT adapter directories are no slice
 * sources (write {@code MODEL+LORA}). The same model twice in one slice is refused: mergekit keys a
 * slice's tensors by model, so one of the two would be silently dropped.
 */
final class SlicePlan {
    private SlicePlan() {}

    /** The tensor store of a model source (a model, or the model of MODEL+LORA). */
    static TensorStore store(MergeSource s) {
        if (s instanceof MergeSource.FullModel fm) {
            return fm.store();
        }
        if (s instanceof MergeSource.LoraApplied la) {
            return la.model().store();
        }
        throw new IllegalStateException("no tensor store: " + s.dir());
    }

    /** A model's layers: layer index to its tensors' names, and the names outside the layers (in store order). */
    private record Layers(TreeMap<Integer, List<String>> byLayer, List<String> other) {
        int count() {
            return byLayer.isEmpty() ? 0 : byLayer.lastKey() + 1;
        }
    }

    private static Layers layers(TensorStore st) {
        TreeMap<Integer, List<String>> by = new TreeMap<>();
        List<String> other = new ArrayList<>();
        for (String n : st.names()) {
            Matcher m = MergePlan.LAYER.matcher(n);
            if (m.find()) {
                by.computeIfAbsent(Integer.parseInt(m.group(1)), k -> new ArrayList<>())
                        .add(n);
            } else {
                other.add(n);
            }
        }
        return new Layers(by, other);
    }

    /** {@code name} with its layer index replaced by {@code to}. */
    static String renumber(String name, int to) {
        Matcher m = MergePlan.LAYER.matcher(name);
        if (!m.find()) {
            return name;
        }
        return name.substring(0, m.start(1)) + to + name.substring(m.end(1));
    }

    static boolean beforeLayers(String name) {
        return (name.contains("embed") && !name.contains("embed_out"))
                || name.contains(".wte.")
                || name.contains(".wpe.")
                || name.startsWith("wte.")
                || name.startsWith("wpe.");
    }

    /** Plans a slices / modules merge into {@code out}. */
    static MergePlan open(
            MergeSpec spec,
            MergeMethod method,
            MergeSource.Ref baseRef,
            Path out,
            DType outDtype,
            Long seed,
            Consumer<String> log) {
        MergeSlices layout = spec.slices();
        List<MergeSlices.Slice> slices = new ArrayList<>(layout.slices());
        // 1. every referenced model, once
        List<MergeSource.Ref> refs = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        BiFunction<String, String, Integer> index = (p, what) -> {
            MergeSource.Ref r = spec.resolveRef(p, what);
            for (int i = 0; i < refs.size(); i++) {
                if (refs.get(i).sameAs(r)) {
                    return i;
                }
            }
            refs.add(r);
            labels.add(p);
            return refs.size() - 1;
        };
        if (layout.fromModels() && baseRef != null) {
            // mergekit's normalize_config: an unlisted base becomes one more source of the module's slice
            MergeSlices.Slice s0 = slices.get(0);
            boolean listed = s0.sources().stream()
                    .anyMatch(x -> spec.resolveRef(x.model(), "modules").sameAs(baseRef));
            if (!listed) {
                List<MergeSlices.Source> srcs = new ArrayList<>(s0.sources());
                srcs.add(new MergeSlices.Source(spec.base(), 0, -1, Map.of()));
                slices.set(0, new MergeSlices.Slice(List.copyOf(srcs), s0.base(), s0.parameters()));
                log.accept(
                        "the base model " + spec.base()
                                + " is not listed under the module's models: it is added as one more source (as mergekit does)");
            }
        }
        int[][] srcIdx = new int[slices.size()][];
        int[] baseIdx = new int[slices.size()];
        for (int s = 0; s < slices.size(); s++) {
            MergeSlices.Slice sl = slices.get(s);
            srcIdx[s] = new int[sl.sources().size()];
            for (int j = 0; j < srcIdx[s].length; j++) {
                srcIdx[s][j] = index.apply(sl.sources().get(j).model(), "slices[" + s + "].sources[" + j + "].model");
                for (int k = 0; k < j; k++) {
                    if (srcIdx[s][k] == srcIdx[s][j]) {
                        throw PaftException.usage(
                                "slices[" + s + "]: model "
                                        + sl.sources().get(j).model() + " is listed twice among the sources; "
                                        + "a slice takes each model once (mergekit keys a slice's tensors by model and would drop one)");
                    }
                }
            }
            String b = sl.base() != null ? sl.base() : spec.base();
            baseIdx[s] = -1;
            if (b != null) {
                MergeSource.Ref br = spec.resolveRef(b, "base_model");
                for (int j = 0; j < srcIdx[s].length; j++) {
                    if (refs.get(srcIdx[s][j]).sameAs(br)) {
                        baseIdx[s] = srcIdx[s][j];
                    }
                }
                if (baseIdx[s] < 0 && (method.needsBase() || method.usesDeltas())) {
                    throw PaftException.usage("slices[" + s + "]: the base model " + b
                            + " is not among the slice's sources; " + method.name()
                            + " reads the base from each slice's sources (list it with the layer_range to use)");
                }
            }
            if (baseIdx[s] < 0 && method.needsBase()) {
                throw PaftException.usage("slices[" + s + "]: " + method.name()
                        + " needs a base model (base_model, or the slice's base_model)");
            }
        }
        for (MergeSource.Ref r : refs) {
            if (MergePlan.samePath(r.model(), out) || (r.lora() != null && MergePlan.samePath(r.lora(), out))) {
                throw PaftException.usage("the output " + out + " is also an input");
            }
        }
        List<MergeSource> sources = new ArrayList<>();
        boolean ok = false;
        try {
            // 2. open the models (headers only) and find their layers
            for (MergeSource.Ref r : refs) {
                if (r.lora() == null && Files.isDirectory(r.model()) && PeftAdapter.isAdapterDir(r.model())) {
                    throw PaftException.usage(
                            r.model() + ": a PEFT adapter directory cannot be a slice source; write MODEL+LORA "
                                    + "(the adapter applied to its model)");
                }
                sources.add(MergeSource.open(r));
                if (!Files.isRegularFile(r.model().resolve("config.json"))) {
                    throw PaftException.badInput(r.model() + ": model has no config.json");
                }
            }
            List<Layers> lay = new ArrayList<>();
            for (MergeSource s : sources) {
                lay.add(layers(store(s)));
            }
            // modules: {models}: each source covers all of its layers (the counts must agree)
            for (int s = 0; s < slices.size(); s++) {
                MergeSlices.Slice sl = slices.get(s);
                List<MergeSlices.Source> fixed = new ArrayList<>();
                for (int j = 0; j < sl.sources().size(); j++) {
                    MergeSlices.Source src = sl.sources().get(j);
                    int n = lay.get(srcIdx[s][j]).count();
                    if (src.end() < 0) {
                        src = new MergeSlices.Source(src.model(), 0, n, src.parameters());
                    }
                    if (src.end() > n) {
                        throw PaftException.usage(
                                "slices[" + s + "].sources[" + j + "]: layer_range [" + src.start() + ", " + src.end()
                                        + "] is past the " + n + " layers of " + src.model() + " (end is exclusive)");
                    }
                    fixed.add(src);
                }
                int len = fixed.get(0).end() - fixed.get(0).start();
                for (MergeSlices.Source f : fixed) {
                    if (f.end() - f.start() != len) {
                        throw PaftException.usage("slices[" + s + "]: all sources must have the same number of layers ("
                                + fixed.get(0).model() + ": " + len + ", " + f.model() + ": " + (f.end() - f.start())
                                + ")");
                    }
                }
                slices.set(s, new MergeSlices.Slice(List.copyOf(fixed), sl.base(), sl.parameters()));
            }
            // 3. the jobs: before the layers, the layers slice by slice, after the layers
            Resolver res = new Resolver(method, spec, layout.moduleParameters(), seed);
            List<Job> jobs = new ArrayList<>();
            int first = srcIdx[0][0];
            TensorStore firstStore = store(sources.get(first));
            List<String> before = lay.get(first).other().stream()
                    .filter(SlicePlan::beforeLayers)
                    .toList();
            int last = slices.size() - 1;
            List<String> after = new ArrayList<>();
            for (String n : lay.get(srcIdx[last][0]).other()) {
                if (!beforeLayers(n)) {
                    after.add(n);
                }
            }
            for (String n : before) {
                jobs.add(res.job(
                        n,
                        names(n, slices.get(0).sources().size()),
                        slices.get(0),
                        0,
                        srcIdx[0],
                        baseIdx[0],
                        0.0,
                        sources,
                        outDtype,
                        "slices[0]"));
            }
            int k = 0;
            for (int s = 0; s < slices.size(); s++) {
                MergeSlices.Slice sl = slices.get(s);
                int len = sl.sources().get(0).end() - sl.sources().get(0).start();
                for (int i = 0; i < len; i++) {
                    double t = len > 1 ? (double) i / (len - 1) : 1.0;
                    MergeSlices.Source s0 = sl.sources().get(0);
                    List<String> template = lay.get(srcIdx[s][0]).byLayer().getOrDefault(s0.start() + i, List.of());
                    for (String n0 : template) {
                        String[] in = new String[sl.sources().size()];
                        for (int j = 0; j < in.length; j++) {
                            in[j] = renumber(n0, sl.sources().get(j).start() + i);
                        }
                        jobs.add(res.job(
                                renumber(n0, k),
                                in,
                                sl,
                                s,
                                srcIdx[s],
                                baseIdx[s],
                                t,
                                sources,
                                outDtype,
                                "slices[" + s + "] layer " + (s0.start() + i)));
                    }
                    for (int j = 1; j < sl.sources().size(); j++) {
                        int lj = sl.sources().get(j).start() + i;
                        Set<String> want = new LinkedHashSet<>();
                        template.forEach(n0 -> want.add(renumber(n0, lj)));
                        Set<String> have = new LinkedHashSet<>(
                                lay.get(srcIdx[s][j]).byLayer().getOrDefault(lj, List.of()));
                        if (!want.equals(have)) {
                            have.removeAll(want);
                            throw PaftException.badInput(sl.sources().get(j).model() + ": layer " + lj
                                    + " has other tensors than "
                                    + s0.model() + "'s layer " + (s0.start() + i)
                                    + (have.isEmpty()
                                            ? ""
                                            : " (e.g. '" + have.iterator().next() + "')")
                                    + "; slices[" + s + "] merges them (the models must share an architecture)");
                        }
                    }
                    k++;
                }
            }
            for (String n : after) {
                jobs.add(res.job(
                        n,
                        names(n, slices.get(last).sources().size()),
                        slices.get(last),
                        last,
                        srcIdx[last],
                        baseIdx[last],
                        0.0,
                        sources,
                        outDtype,
                        "slices[" + last + "]"));
            }
            res.warn(log);
            // 4. the tokenizer (its embedding rows), from the config's base or the first model
            TokenizerMerge.Built tok = null;
            if (spec.tokenizer() != null) {
                Map<String, Path> dirs = new LinkedHashMap<>();
                MergeSource.Ref donor = baseRef != null ? baseRef : refs.get(0);
                dirs.put(donor.display(), donor.model());
                for (MergeSource.Ref r : refs) {
                    dirs.putIfAbsent(r.display(), r.model());
                }
                tok = TokenizerMerge.build(
                        spec.tokenizer(),
                        donor.display(),
                        dirs,
                        p -> spec.resolveRef(p, "tokenizer").display(),
                        log);
                if (spec.tokenizer().buildsVocab()) {
                    Set<String> embeds = new LinkedHashSet<>();
                    // an embedding: outside the layers, with as many rows as its (first) model's vocab_size
                    for (Job j : jobs) {
                        int src = j.sourceIdx().length > 0 ? j.source(0) : j.baseSource();
                        if (!j.passthrough()
                                && src >= 0
                                && !MergePlan.LAYER.matcher(j.spec().name()).find()
                                && j.spec().shape().length == 2
                                && j.spec().shape()[0]
                                        == TokenizerMerge.configVocabSize(
                                                refs.get(src).model())) {
                            embeds.add(j.spec().name());
                        }
                    }
                    jobs = MergePlan.embedJobs(jobs, embeds, tok, log);
                }
            }
            List<MergeSpec.Input> inputs = new ArrayList<>();
            for (String l : labels) {
                inputs.add(new MergeSpec.Input(l, Map.of()));
            }
            MergeSource.Ref donorRef = baseRef != null ? baseRef : refs.get(0);
            int donor = -1;
            for (int i = 0; i < refs.size(); i++) {
                if (refs.get(i).sameAs(donorRef)) {
                    donor = i;
                }
            }
            TensorStore ref = donor >= 0 ? store(sources.get(donor)) : firstStore;
            ok = true;
            return new MergePlan(method, spec, seed, baseRef, ref, false, null, sources, inputs, refs, jobs, k, tok);
        } finally {
            if (!ok) {
                sources.forEach(MergeSource::close);
            }
        }
    }

    private static String[] names(String n, int count) {
        String[] out = new String[count];
        Arrays.fill(out, n);
        return out;
    }

    /** Resolves a slice job's parameters along mergekit's chain: source, slice, module, global, default. */
    private static final class Resolver {
        final MergeMethod method;
        final MergeSpec spec;
        final Map<String, Object> module;
        final Long seed;
        final Set<String> noEffect = new LinkedHashSet<>();
        final Map<Object, ParamValue> parsed = new IdentityHashMap<>();

        Resolver(MergeMethod method, MergeSpec spec, Map<String, Object> module, Long seed) {
            this.method = method;
            this.spec = spec;
            this.module = module;
            this.seed = seed;
            Map<String, Object> g = method.parameters();
            Map<String, Object> tp = method.tensorParameters();
            check(spec.parameters(), "parameters", g, tp);
            check(module, "modules.default.parameters", g, tp);
            if (spec.slices() != null) {
                for (int s = 0; s < spec.slices().slices().size(); s++) {
                    MergeSlices.Slice sl = spec.slices().slices().get(s);
                    check(sl.parameters(), "slices[" + s + "].parameters", g, tp);
                    for (MergeSlices.Source src : sl.sources()) {
                        for (String k : src.parameters().keySet()) {
                            if (!tp.containsKey(k) || method.inertParameters().contains(k)) {
                                noEffect.add(src.model() + ": " + k);
                            }
                        }
                    }
                }
            }
        }

        private void check(Map<String, Object> ps, String where, Map<String, Object> g, Map<String, Object> tp) {
            for (String k : ps.keySet()) {
                if ((!g.containsKey(k) && !tp.containsKey(k))
                        || method.inertParameters().contains(k)) {
                    noEffect.add(where + "." + k);
                }
            }
        }

        void warn(Consumer<String> log) {
            if (!noEffect.isEmpty()) {
                log.accept("warning: " + (noEffect.size() == 1 ? "this parameter has" : "these parameters have")
                        + " no effect on "
                        + method.name() + " and " + (noEffect.size() == 1 ? "is" : "are")
                        + " ignored, as mergekit ignores them: "
                        + String.join(", ", noEffect));
            }
        }

        private Object eval(Map<String, Object> ps, String key, String where, String tensor, double t) {
            Object raw = ps.get(key);
            if (raw == null) {
                return null;
            }
            ParamValue pv = parsed.computeIfAbsent(raw, r -> ParamValue.parse(r, where + "." + key));
            return pv.resolve(tensor, t);
        }

        /** mergekit's chain without the source level (slice, module, global). */
        private Object shared(MergeSlices.Slice sl, int s, String key, String tensor, double t) {
            Object v = eval(sl.parameters(), key, "slices[" + s + "].parameters", tensor, t);
            if (v == null) {
                v = eval(module, key, "modules.default.parameters", tensor, t);
            }
            if (v == null) {
                v = eval(spec.parameters(), key, "parameters", tensor, t);
            }
            return v;
        }

        Job job(
                String outName,
                String[] inNames,
                MergeSlices.Slice sl,
                int s,
                int[] srcIdx,
                int baseSource,
                double t,
                List<MergeSource> sources,
                DType outDtype,
                String where) {
            TensorStore st0 = store(sources.get(srcIdx[0]));
            if (!st0.contains(inNames[0])) {
                throw PaftException.badInput(
                        sources.get(srcIdx[0]).dir() + ": no tensor '" + inNames[0] + "' (" + where + ")");
            }
            TensorInfo info = st0.info(inNames[0]);
            for (int j = 0; j < srcIdx.length; j++) {
                TensorStore st = store(sources.get(srcIdx[j]));
                if (!st.contains(inNames[j])) {
                    throw PaftException.badInput(sources.get(srcIdx[j]).dir() + ": no tensor '" + inNames[j] + "' that "
                            + where + " merges");
                }
                boolean embedRows = spec.tokenizer() != null
                        && spec.tokenizer().buildsVocab()
                        && info.shape().length == 2
                        && st.info(inNames[j]).shape().length == 2
                        && info.shape()[1] == st.info(inNames[j]).shape()[1]
                        && !MergePlan.LAYER.matcher(outName).find();
                if (!embedRows && !Arrays.equals(st.info(inNames[j]).shape(), info.shape())) {
                    throw PaftException.badInput(
                            sources.get(srcIdx[j]).dir() + ": tensor '" + inNames[j] + "' has shape "
                                    + st.info(inNames[j]).shapeString() + " but "
                                    + sources.get(srcIdx[0]).dir() + "'s '" + inNames[0] + "' has "
                                    + info.shapeString() + " (" + where + ")");
                }
            }
            // the inputs: the slice's sources, the base left out when the method takes it as the base
            List<Integer> inIdx = new ArrayList<>();
            List<String> inN = new ArrayList<>();
            List<MergeSlices.Source> inSrc = new ArrayList<>();
            String baseName = null;
            for (int j = 0; j < srcIdx.length; j++) {
                if (srcIdx[j] == baseSource) {
                    baseName = inNames[j];
                    if (!method.baseIsAnInput()) {
                        continue;
                    }
                }
                inIdx.add(srcIdx[j]);
                inN.add(inNames[j]);
                inSrc.add(sl.sources().get(j));
            }
            method.validateInputs(inIdx.size());
            int[] idx = inIdx.stream().mapToInt(Integer::intValue).toArray();
            if (!info.dtype().isFloat()) {
                return new Job(
                        new TensorSpec(outName, info.dtype(), info.shape()),
                        true,
                        null,
                        List.of(),
                        0,
                        idx.length == 0 ? new int[] {srcIdx[0]} : idx,
                        idx.length == 0 ? new String[] {inNames[0]} : inN.toArray(String[]::new),
                        baseSource,
                        baseName,
                        null);
            }
            Map<String, Object> g = new LinkedHashMap<>();
            for (var e : method.parameters().entrySet()) {
                Object v = shared(sl, s, e.getKey(), outName, t);
                if (e.getKey().equals("seed") && seed != null) {
                    v = seed.doubleValue();
                }
                g.put(e.getKey(), required(v != null ? v : e.getValue(), "parameters." + e.getKey(), outName));
            }
            Params gp = new Params("tensor '" + outName + "'", g);
            List<Params> ps = new ArrayList<>();
            for (int j = 0; j < idx.length; j++) {
                MergeSlices.Source src = inSrc.get(j);
                MergeSource.Ref me = spec.resolveRef(src.model(), "slices");
                Map<String, Object> v = new LinkedHashMap<>();
                for (var e : method.tensorParameters().entrySet()) {
                    String key = e.getKey();
                    Object x = null;
                    // the first source of the slice with this model that sets the parameter (mergekit's
                    // ConfigReader.parameter)
                    for (MergeSlices.Source other : sl.sources()) {
                        if (other.parameters().containsKey(key)
                                && spec.resolveRef(other.model(), "slices").sameAs(me)) {
                            x = eval(other.parameters(), key, other.model() + ": parameters", inN.get(j), t);
                            if (x != null) {
                                break;
                            }
                        }
                    }
                    if (x == null) {
                        x = shared(sl, s, key, inN.get(j), t);
                    }
                    v.put(key, required(x != null ? x : e.getValue(), src.model() + ": " + key, outName));
                }
                ps.add(new Params(src.model() + " (tensor '" + outName + "')", v));
            }
            method.validate(gp, ps);
            long n = info.numel();
            if (n > Integer.MAX_VALUE - 8) {
                throw PaftException.badInput(st0.dir() + ": tensor '" + inNames[0] + "' has " + n
                        + " elements, too many to merge in one array");
            }
            DType dt = outDtype != null ? outDtype : info.dtype();
            return new Job(
                    new TensorSpec(outName, dt, info.shape()),
                    false,
                    gp,
                    ps,
                    4L * n * (idx.length + 1),
                    idx,
                    inN.toArray(String[]::new),
                    baseSource,
                    baseName,
                    null);
        }

        private static Object required(Object v, String where, String tensor) {
            if (v == null) {
                throw PaftException.usage(
                        where + " is required (no value for tensor '" + tensor + "': none given at the source, slice, "
                                + "module or global level, or none of its filters match)");
            }
            return v;
        }
    }
}
