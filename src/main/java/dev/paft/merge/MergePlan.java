package dev.paft.merge;

import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.PeftAdapter;
import dev.paft.io.TensorInfo;
import dev.paft.io.TensorSpec;
import dev.paft.io.TensorStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The first stage of a merge, mergekit's planner (mergekit/plan.py) in paft's terms: which inputs
 * take part (the base skipped or appended as mergekit does), opened and checked against the base
 * (names, shapes, adapter targets), and for every output tensor the parameters of each input,
 * resolved and validated by the method. Nothing is written before a plan holds. The plan owns the
 * open inputs until {@link #close()}.
 *
 * @param seed the --seed override (null: the config's, or the method default)
 * @param ref the reference store for names, shapes and pass-through bytes (the base, or the
 *     first input without one)
 * @param hasBase a base model is read for every tensor
 * @param baseLora the adapter applied to the base ({@code base_model: BASE+LORA}), or null
 * @param inputs the method's inputs in order (the base appended when the method merges an unlisted
 *     base), with {@code sources} and {@code inputRefs} in the same order
 * @param jobs one per output tensor, in the reference store's order
 */
record MergePlan(
        MergeMethod method,
        MergeSpec spec,
        Long seed,
        MergeSource.Ref baseRef,
        TensorStore ref,
        boolean hasBase,
        MergeSource.Adapter baseLora,
        List<MergeSource> sources,
        List<MergeSpec.Input> inputs,
        List<MergeSource.Ref> inputRefs,
        List<Job> jobs,
        int layers,
        TokenizerMerge.Built tokenizer)
        implements AutoCloseable {
    static final Pattern LAYER = Pattern.compile("(?:^|\\.)layers\\.(\\d+)\\.");

    /** A plan of whole models with the base's tokenizer and layer count. */
    MergePlan(
            MergeMethod method,
            MergeSpec spec,
            Long seed,
            MergeSource.Ref baseRef,
            TensorStore ref,
            boolean hasBase,
            MergeSource.Adapter baseLora,
            List<MergeSource> sources,
            List<MergeSpec.Input> inputs,
            List<MergeSource.Ref> inputRefs,
            List<Job> jobs) {
        this(method, spec, seed, baseRef, ref, hasBase, baseLora, sources, inputs, inputRefs, jobs, -1, null);
    }

    /**
     * One output tensor: its spec and resolved parameters ({@code passthrough}: copied as the
     * reference's bytes). Where the inputs come from: by default every source of the plan in order,
     * each read under the output's name, and the base from the reference store; a slice's job
     * ({@link SlicePlan}) names its sources ({@code sourceIdx}, indices into the plan's sources), their
     * tensors ({@code inputNames}) and the base's ({@code baseSource}, {@code baseName}; -1: none).
     * {@code embed}: the rows are permuted into the merged vocabulary first ({@link TokenizerMerge}).
     */
    record Job(
            TensorSpec spec,
            boolean passthrough,
            Params global,
            List<Params> perInput,
            long floatBytes,
            int[] sourceIdx,
            String[] inputNames,
            int baseSource,
            String baseName,
            TokenizerMerge.Built embed) {
        Job(TensorSpec spec, boolean passthrough, Params global, List<Params> perInput, long floatBytes) {
            this(spec, passthrough, global, perInput, floatBytes, null, null, -1, null, null);
        }

        /** The plan source of input {@code i}. */
        int source(int i) {
            return sourceIdx == null ? i : sourceIdx[i];
        }

        /** The tensor read from input {@code i}. */
        String inputName(int i) {
            return inputNames == null ? spec.name() : inputNames[i];
        }

        /** The base's tensor. */
        String baseTensor() {
            return baseName == null ? spec.name() : baseName;
        }

        /** The number of inputs, given the plan's source count. */
        int inputCount(int planSources) {
            return sourceIdx == null ? planSources : sourceIdx.length;
        }

        Job withEmbed(TokenizerMerge.Built b, long rows) {
            long[] shape = spec.shape().clone();
            long perRow = spec.numel() / shape[0];
            shape[0] = rows;
            long inputs = perInput.size() + 1;
            return new Job(
                    new TensorSpec(spec.name(), spec.dtype(), shape),
                    passthrough,
                    global,
                    perInput,
                    4L * rows * perRow * (inputs + 1) + floatBytes,
                    sourceIdx,
                    inputNames,
                    baseSource,
                    baseName,
                    b);
        }
    }

    /**
     * Plans a merge into {@code out}: resolves and opens the inputs, checks them, resolves every
     * tensor's parameters; logs the unlisted base and the parameters without effect.
     */
    static MergePlan open(
            MergeSpec spec,
            MergeMethod method,
            MergeSource.Ref baseRef,
            Path out,
            DType outDtype,
            Long seed,
            Consumer<String> log) {
        // inputs: for delta methods and slerp the base itself is not an input (its parameters have
        // no effect); linear merges a base not listed under models as one more input, as mergekit does
        List<String> noEffect = new ArrayList<>();
        List<MergeSpec.Input> inputs = new ArrayList<>();
        List<MergeSource.Ref> refs = new ArrayList<>();
        boolean baseListed = false;
        for (MergeSpec.Input in : spec.models()) {
            MergeSource.Ref r = spec.resolveRef(in.model(), "models");
            if (r.sameAs(baseRef)) {
                baseListed = true;
                if (!method.baseIsAnInput()) {
                    in.parameters().keySet().forEach(k -> noEffect.add(in.model() + " (the base model): " + k));
                    continue;
                }
            }
            inputs.add(in);
            refs.add(r);
        }
        int addedBase = -1;
        // a plain adapter directory as input is paft's own form (mergekit has no such input): there
        // the base is the adapters' base, not one more input
        boolean adapterInputs = refs.stream().anyMatch(r -> r.lora() == null && PeftAdapter.isAdapterDir(r.model()));
        if (method.baseIsAnInput() && baseRef != null && !baseListed && !adapterInputs) {
            addedBase = inputs.size();
            inputs.add(new MergeSpec.Input(spec.base(), Map.of()));
            refs.add(baseRef);
            log.accept("the base model " + spec.base() + " is not listed under models: it is merged as one more input, "
                    + "weighted by parameters.weight (as mergekit does)");
        }
        method.validateInputs(inputs.size());
        for (MergeSource.Ref r : refs) {
            if (samePath(r.model(), out) || (r.lora() != null && samePath(r.lora(), out))) {
                throw PaftException.usage("the output " + out + " is also an input");
            }
        }
        if (baseRef != null
                && (samePath(baseRef.model(), out) || (baseRef.lora() != null && samePath(baseRef.lora(), out)))) {
            throw PaftException.usage("the output " + out + " is the base model");
        }
        List<MergeSource> sources = new ArrayList<>();
        TensorStore base = null;
        MergeSource.Adapter baseLora = null;
        boolean ok = false;
        try {
            // 3. open everything (headers only) and check names, shapes and adapter targets
            if (baseRef != null) {
                Path baseDir = baseRef.model();
                if (!Files.isDirectory(baseDir)) {
                    throw PaftException.badInput(
                            baseDir + ": base model not found (paft merge reads local directories)");
                }
                if (!Files.isRegularFile(baseDir.resolve("config.json"))) {
                    throw PaftException.badInput(baseDir + ": base model has no config.json");
                }
                base = TensorStore.openModel(baseDir);
                if (baseRef.lora() != null) {
                    if (!Files.isDirectory(baseRef.lora()) || !PeftAdapter.isAdapterDir(baseRef.lora())) {
                        throw PaftException.badInput(baseRef.lora()
                                + ": not a PEFT adapter directory (no adapter_config.json); in base_model "
                                + spec.base() + " the part after '+' must be one");
                    }
                    baseLora = MergeSource.Adapter.open(baseRef.lora());
                    baseLora.validateAgainst(base);
                }
            }
            for (MergeSource.Ref r : refs) {
                sources.add(MergeSource.open(r));
            }
            if (base == null && sources.get(0) instanceof MergeSource.FullModel fm) {
                if (!Files.isRegularFile(fm.dir().resolve("config.json"))) {
                    throw PaftException.badInput(fm.dir() + ": model has no config.json");
                }
            }
            TensorStore ref = base != null ? base : referenceStore(sources);
            boolean vocabMerge = spec.tokenizer() != null && spec.tokenizer().buildsVocab();
            Set<String> embeds = vocabMerge ? embeddingNames(ref) : Set.of();
            for (MergeSource s : sources) {
                s.validateAgainst(ref, embeds);
            }
            // 4. resolve every tensor's parameters (exit 2 on a bad value before anything is written)
            List<Job> jobs = resolve(method, spec, inputs, ref, outDtype, seed, noEffect, addedBase);
            TokenizerMerge.Built tok = null;
            if (spec.tokenizer() != null) {
                Map<String, Path> dirs = new LinkedHashMap<>();
                String baseKey =
                        baseRef != null ? baseRef.display() : refs.get(0).display();
                dirs.put(
                        baseKey, baseRef != null ? baseRef.model() : refs.get(0).model());
                for (MergeSource.Ref r : refs) {
                    dirs.putIfAbsent(r.display(), r.model());
                }
                tok = TokenizerMerge.build(
                        spec.tokenizer(),
                        baseKey,
                        dirs,
                        p -> spec.resolveRef(p, "tokenizer").display(),
                        log);
                if (vocabMerge) {
                    jobs = embedJobs(jobs, embeds, tok, log);
                }
            }
            if (!noEffect.isEmpty()) {
                log.accept("warning: " + (noEffect.size() == 1 ? "this parameter has" : "these parameters have")
                        + " no effect on " + method.name() + " and " + (noEffect.size() == 1 ? "is" : "are")
                        + " ignored, as mergekit ignores them: " + String.join(", ", noEffect));
            }
            ok = true;
            return new MergePlan(
                    method, spec, seed, baseRef, ref, base != null, baseLora, sources, inputs, refs, jobs, -1, tok);
        } finally {
            if (!ok) {
                closeAll(sources, baseLora, base);
            }
        }
    }

    /**
     * The embedding tensors mergekit permutes into a merged vocabulary ({@code is_embed} in its
     * architecture files: {@code embed_tokens}, {@code lm_head}): here every tensor outside the layers
     * whose first dimension is the model's {@code vocab_size} (config.json), whatever the architecture.
     */
    static Set<String> embeddingNames(TensorStore ref) {
        int v = TokenizerMerge.configVocabSize(ref.dir());
        Set<String> out = new LinkedHashSet<>();
        for (String n : ref.names()) {
            TensorInfo i = ref.info(n);
            if (!LAYER.matcher(n).find() && i.shape().length == 2 && i.dtype().isFloat() && i.shape()[0] == v) {
                out.add(n);
            }
        }
        return out;
    }

    /** The jobs with the embedding tensors' rows permuted into the merged vocabulary (their shapes changed). */
    static List<Job> embedJobs(List<Job> jobs, Set<String> embeds, TokenizerMerge.Built tok, Consumer<String> log) {
        if (embeds.isEmpty()) {
            log.accept("warning: no embedding tensor found (a 2-D tensor outside the layers with vocab_size rows); "
                    + "the merged tokenizer is written but no rows are permuted");
        }
        List<Job> out = new ArrayList<>();
        for (Job j : jobs) {
            out.add(!j.passthrough() && embeds.contains(j.spec().name()) ? j.withEmbed(tok, tok.rows()) : j);
        }
        return out;
    }

    /** Closes every input, the base's adapter and the base. */
    @Override
    public void close() {
        closeAll(sources, baseLora, hasBase ? ref : null);
    }

    private static void closeAll(List<MergeSource> sources, MergeSource.Adapter baseLora, TensorStore base) {
        for (MergeSource s : sources) {
            s.close();
        }
        if (baseLora != null) {
            baseLora.close();
        }
        if (base != null) {
            base.close();
        }
    }

    private static TensorStore referenceStore(List<MergeSource> sources) {
        MergeSource first = sources.get(0);
        TensorStore store = first instanceof MergeSource.FullModel fm
                ? fm.store()
                : first instanceof MergeSource.LoraApplied la ? la.model().store() : null;
        if (store == null) {
            throw PaftException.usage(first.dir() + ": a LoRA adapter input needs a base model");
        }
        for (MergeSource s : sources) {
            if (s instanceof MergeSource.Adapter a) {
                throw PaftException.usage(a.dir() + ": a LoRA adapter input needs a base model");
            }
        }
        return store;
    }

    static boolean samePath(Path a, Path b) {
        try {
            if (Files.exists(a) && Files.exists(b)) {
                return Files.isSameFile(a, b);
            }
        } catch (IOException ignored) {
            // fall through
        }
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    /**
     * Interpolation point of a tensor for layer gradients: layer i of L at {@code i / (L - 1)} (1 when
     * L = 1), every other tensor (embeddings, the final norm, {@code lm_head}) at 0, as mergekit's
     * planner does since March 2025 (mergekit/plan.py: {@code plan_module} reads the weights before
     * and after the layers with a reader at {@code t = 0}; {@code plan_slice} gives layer
     * {@code idx} {@code t = idx / (num_layers - 1)}).
     */
    static double tOf(String name, int numLayers) {
        Matcher m = LAYER.matcher(name);
        if (m.find()) {
            int i = Integer.parseInt(m.group(1));
            return numLayers > 1 ? (double) i / (numLayers - 1) : 1.0;
        }
        return 0.0;
    }

    /**
     * Resolves every tensor's parameters as mergekit's {@code ConfigReader.parameter} does
     * (mergekit/config.py): a per-input parameter takes the input's own setting, and when that is
     * absent or none of its filters match, the global {@code parameters:} setting, then the method's
     * default; a global parameter takes the global setting, then the default. A parameter the
     * method does not declare (or declares without effect) is named in {@code noEffect} and ignored.
     *
     * @param addedBase index of the base appended as an input (linear), or -1
     */
    static List<Job> resolve(
            MergeMethod method,
            MergeSpec spec,
            List<MergeSpec.Input> inputs,
            TensorStore ref,
            DType outDtype,
            Long seedOverride,
            List<String> noEffect,
            int addedBase) {
        Map<String, Object> gdefs = method.parameters();
        Map<String, Object> tdefs = method.tensorParameters();
        // mergekit allows per-input parameters at the top level as their fallback
        Map<String, ParamValue> global = new LinkedHashMap<>();
        for (var e : spec.parameters().entrySet()) {
            String k = e.getKey();
            if (gdefs.containsKey(k) || tdefs.containsKey(k)) {
                global.put(k, ParamValue.parse(e.getValue(), "parameters." + k));
            } else {
                noEffect.add("parameters." + k);
            }
        }
        if (seedOverride != null && gdefs.containsKey("seed")) {
            global.put("seed", new ParamValue.Scalar(seedOverride.doubleValue()));
        }
        List<Map<String, ParamValue>> per = new ArrayList<>();
        for (MergeSpec.Input in : inputs) {
            Map<String, ParamValue> m = new LinkedHashMap<>();
            for (var e : in.parameters().entrySet()) {
                if (tdefs.containsKey(e.getKey())) {
                    m.put(e.getKey(), ParamValue.parse(e.getValue(), in.model() + ": parameters." + e.getKey()));
                } else {
                    noEffect.add(in.model() + ": " + e.getKey());
                }
            }
            per.add(m);
        }
        int numLayers = 0;
        for (String n : ref.names()) {
            Matcher mm = LAYER.matcher(n);
            if (mm.find()) {
                numLayers = Math.max(numLayers, Integer.parseInt(mm.group(1)) + 1);
            }
        }
        List<Job> jobs = new ArrayList<>();
        for (String name : ref.names()) {
            TensorInfo info = ref.info(name);
            if (!info.dtype().isFloat()) {
                jobs.add(new Job(new TensorSpec(name, info.dtype(), info.shape()), true, null, List.of(), 0));
                continue;
            }
            double t = tOf(name, numLayers);
            Map<String, Object> g = new LinkedHashMap<>();
            for (var e : gdefs.entrySet()) {
                Object v = resolve(global.get(e.getKey()), name, t);
                g.put(e.getKey(), required(v != null ? v : e.getValue(), "parameters." + e.getKey(), name, ""));
            }
            Params gp = new Params("tensor '" + name + "'", g);
            List<Params> ps = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                Map<String, Object> v = new LinkedHashMap<>();
                for (var e : tdefs.entrySet()) {
                    String k = e.getKey();
                    Object x = resolve(per.get(i).get(k), name, t);
                    if (x == null) {
                        x = resolve(global.get(k), name, t);
                    }
                    String hint = i != addedBase
                            ? ""
                            : " (the base model is not listed under models, so it is merged as an input, "
                                    + "as mergekit does: list it under models with a " + k + ", or set parameters." + k
                                    + ")";
                    v.put(
                            k,
                            required(x != null ? x : e.getValue(), inputs.get(i).model() + ": " + k, name, hint));
                }
                ps.add(new Params(inputs.get(i).model() + " (tensor '" + name + "')", v));
            }
            method.validate(gp, ps);
            DType dt = outDtype != null ? outDtype : info.dtype();
            long n = info.numel();
            if (n > Integer.MAX_VALUE - 8) {
                throw PaftException.badInput(
                        ref.dir() + ": tensor '" + name + "' has " + n + " elements, too many to merge in one array");
            }
            // base + inputs (+ the method's scratch arrays); the result reuses an input array
            long floatBytes = 4L * n * (inputs.size() + 1 + method.scratchArrays());
            jobs.add(new Job(new TensorSpec(name, dt, info.shape()), false, gp, ps, floatBytes));
        }
        return jobs;
    }

    private static Object resolve(ParamValue pv, String tensor, double t) {
        return pv == null ? null : pv.resolve(tensor, t);
    }

    private static Object required(Object v, String where, String tensor, String hint) {
        if (v == null) {
            throw PaftException.usage(where + " is required (no value for tensor '" + tensor
                    + "': none given, or none of its " + "filters match, and no global parameters value)" + hint);
        }
        return v;
    }

    /** Bytes of the merged tensors. */
    long outputBytes() {
        return jobs.stream().mapToLong(j -> j.spec().byteSize()).sum();
    }
}
