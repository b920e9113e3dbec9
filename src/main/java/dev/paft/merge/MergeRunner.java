package dev.paft.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.DType;
import dev.paft.io.Json;
import dev.paft.io.ShardedWriter;
import dev.paft.io.TensorInfo;
import dev.paft.io.TensorSpec;
import dev.paft.io.TensorStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a merge as a stream: validate and plan everything (no output is written before the plan
 * holds), then per tensor read the inputs (positional reads), merge, and write it to the one output
 * shard in flight. Three stages overlap on their own threads - load (positional reads, widen to float32,
 * task vector) / merge / write (narrow, write) - under a byte budget, so peak memory is a small
 * multiple of the largest tensor times the number of inputs, whatever the model size.
 *
 * <p>The output is built in a temporary sibling directory and renamed into place when complete.
 */
public final class MergeRunner {
    /** Files copied from the base (tokenizer, generation settings); config.json is rewritten. */
    static final List<String> COPIED = List.of("tokenizer.json", "tokenizer_config.json", "tokenizer.model",
            "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "generation_config.json",
            "chat_template.jinja", "chat_template.json");
    /**
     * Loader threads (read, widen, task vectors). 2 was tried on a loaded 2-core machine: no
     * measurable gain and a higher RSS peak (1.49 GB), so 1; memory is taken in job order either way.
     * Within a large tensor the inputs are read two at a time (a helper thread takes the odd ones).
     */
    static final int LOADERS = 1;
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)layers\\.(\\d+)\\.");

    /** Run options. {@code memoryBudget}: bytes of float buffers in flight (0 = automatic). */
    public record Options(Path out, boolean overwrite, Long seed, long memoryBudget, Consumer<String> log) {
        public Options(Path out, boolean overwrite) {
            this(out, overwrite, null, 0, s -> { });
        }
    }

    /** What a finished merge did. */
    public record Result(Path out, int tensors, int shards, long bytesWritten, double seconds) {}

    /** One output tensor: its spec and resolved parameters. */
    record Job(TensorSpec spec, boolean passthrough, Params global, List<Params> perInput, long floatBytes) {}

    private MergeRunner() {}

    /**
     * The opened inputs of a merge: the base (its store is the reference for names and shapes, with
     * mergekit's {@code BASE+LORA} an adapter applied on reading), the inputs in order as sources,
     * with their spec entries and references (the base appended when the method merges an unlisted
     * base as an input).
     */
    record Opened(MergeSource.Ref baseRef, TensorStore ref, boolean hasBase, MergeSource.Adapter baseLora,
                  List<MergeSource> sources, List<MergeSpec.Input> inputs, List<MergeSource.Ref> inputRefs) {}

    /** Validates, plans and runs the merge. */
    public static Result run(MergeSpec spec, Options opt) {
        long t0 = System.nanoTime();
        // 1. cheap checks first: method, output target, dtypes, shard size
        MergeMethod method = MergeMethods.get(spec.method());
        Path out = opt.out().toAbsolutePath().normalize();
        AtomicFiles.checkWritable(out, opt.overwrite());
        DType outDtype = spec.outDtype() != null ? DType.parseUser(spec.outDtype(), "out_dtype")
                : spec.dtype() != null ? DType.parseUser(spec.dtype(), "dtype") : null;
        if (spec.outDtype() != null && spec.dtype() != null) {
            DType.parseUser(spec.dtype(), "dtype");
        }
        long shardBytes = parseSize(spec.shardSize() == null ? "5GB" : spec.shardSize());
        MergeSource.Ref baseRef = spec.base() == null ? null : spec.resolveRef(spec.base(), "base_model");
        if (method.needsBase() && baseRef == null) {
            throw PaftException.usage(method.name() + " needs a base model (base / base_model / --base)");
        }
        // 2. inputs: for delta methods and slerp the base itself is not an input (its parameters have
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
        boolean adapterInputs = refs.stream().anyMatch(r -> r.lora() == null && dev.paft.io.PeftAdapter.isAdapterDir(r.model()));
        if (method.baseIsAnInput() && baseRef != null && !baseListed && !adapterInputs) {
            addedBase = inputs.size();
            inputs.add(new MergeSpec.Input(spec.base(), Map.of()));
            refs.add(baseRef);
            opt.log().accept("the base model " + spec.base() + " is not listed under models: it is merged as one more input, "
                    + "weighted by parameters.weight (as mergekit does)");
        }
        method.validateInputs(inputs.size());
        for (MergeSource.Ref r : refs) {
            if (samePath(r.model(), out) || (r.lora() != null && samePath(r.lora(), out))) {
                throw PaftException.usage("the output " + out + " is also an input");
            }
        }
        if (baseRef != null && (samePath(baseRef.model(), out) || (baseRef.lora() != null && samePath(baseRef.lora(), out)))) {
            throw PaftException.usage("the output " + out + " is the base model");
        }
        List<MergeSource> sources = new ArrayList<>();
        TensorStore base = null;
        MergeSource.Adapter baseLora = null;
        try {
            // 3. open everything (headers only) and check names, shapes and adapter targets
            if (baseRef != null) {
                Path baseDir = baseRef.model();
                if (!Files.isDirectory(baseDir)) {
                    throw PaftException.badInput(baseDir + ": base model not found (paft merge reads local directories)");
                }
                if (!Files.isRegularFile(baseDir.resolve("config.json"))) {
                    throw PaftException.badInput(baseDir + ": base model has no config.json");
                }
                base = TensorStore.openModel(baseDir);
                if (baseRef.lora() != null) {
                    if (!Files.isDirectory(baseRef.lora()) || !dev.paft.io.PeftAdapter.isAdapterDir(baseRef.lora())) {
                        throw PaftException.badInput(baseRef.lora() + ": not a PEFT adapter directory (no adapter_config.json); in base_model "
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
            for (MergeSource s : sources) {
                s.validateAgainst(ref);
            }
            // 4. resolve every tensor's parameters (exit 2 on a bad value before anything is written)
            List<Job> jobs = plan(method, spec, inputs, ref, outDtype, opt.seed(), noEffect, addedBase);
            if (!noEffect.isEmpty()) {
                opt.log().accept("warning: " + (noEffect.size() == 1 ? "this parameter has" : "these parameters have")
                        + " no effect on " + method.name() + " and " + (noEffect.size() == 1 ? "is" : "are")
                        + " ignored, as mergekit ignores them: " + String.join(", ", noEffect));
            }
            checkSpace(out, jobs);
            // 5. stream
            return execute(method, spec, new Opened(baseRef, ref, base != null, baseLora, sources, inputs, refs),
                    jobs, shardBytes, out, opt, t0);
        } finally {
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
    }

    private static TensorStore referenceStore(List<MergeSource> sources) {
        MergeSource first = sources.get(0);
        TensorStore store = first instanceof MergeSource.FullModel fm ? fm.store()
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
    static List<Job> plan(MergeMethod method, MergeSpec spec, List<MergeSpec.Input> inputs, TensorStore ref,
                          DType outDtype, Long seedOverride, List<String> noEffect, int addedBase) {
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
            checkGlobal(gp, name);
            List<Params> ps = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                Map<String, Object> v = new LinkedHashMap<>();
                for (var e : tdefs.entrySet()) {
                    String k = e.getKey();
                    Object x = resolve(per.get(i).get(k), name, t);
                    if (x == null) {
                        x = resolve(global.get(k), name, t);
                    }
                    String hint = i != addedBase ? "" : " (the base model is not listed under models, so it is merged as an input, "
                            + "as mergekit does: list it under models with a " + k + ", or set parameters." + k + ")";
                    v.put(k, required(x != null ? x : e.getValue(), inputs.get(i).model() + ": " + k, name, hint));
                }
                Params p = new Params(inputs.get(i).model() + " (tensor '" + name + "')", v);
                checkInput(p);
                ps.add(p);
            }
            if (method instanceof LinearMerge && gp.bool("normalize")) {
                double sum = ps.stream().mapToDouble(p -> p.number("weight")).sum();
                if (Math.abs(sum) < 1e-12) {
                    throw PaftException.usage("linear with normalize: the weights of tensor '" + name + "' sum to 0");
                }
            }
            DType dt = outDtype != null ? outDtype : info.dtype();
            long n = info.numel();
            if (n > Integer.MAX_VALUE - 8) {
                throw PaftException.badInput(ref.dir() + ": tensor '" + name + "' has " + n + " elements, too many to merge in one array");
            }
            long floatBytes = 4L * n * (inputs.size() + 1); // base + inputs; the result reuses an input array
            jobs.add(new Job(new TensorSpec(name, dt, info.shape()), false, gp, ps, floatBytes));
        }
        return jobs;
    }

    private static Object resolve(ParamValue pv, String tensor, double t) {
        return pv == null ? null : pv.resolve(tensor, t);
    }

    private static Object required(Object v, String where, String tensor, String hint) {
        if (v == null) {
            throw PaftException.usage(where + " is required (no value for tensor '" + tensor + "': none given, or none of its "
                    + "filters match, and no global parameters value)" + hint);
        }
        return v;
    }

    private static void checkGlobal(Params g, String tensor) {
        for (var e : g.values().entrySet()) {
            switch (e.getKey()) {
                case "lambda" -> finite(g, "lambda");
                case "normalize", "int8_mask" -> g.bool(e.getKey());
                case "t" -> {
                    double t = g.number("t");
                    if (!(t >= 0 && t <= 1)) {
                        throw PaftException.usage(g.where() + ": t must be in [0, 1] (got " + t + ")");
                    }
                }
                case "rescale" -> TaskArithmeticMerge.checkRescale(g);
                case "consensus" -> {
                    String c = g.string("consensus");
                    if (!"sum".equals(c) && !"count".equals(c)) {
                        throw PaftException.usage(g.where() + ": consensus must be 'sum' or 'count' (got " + c + ")");
                    }
                }
                case "seed" -> {
                    double s = g.number("seed");
                    if (s != Math.rint(s) || Math.abs(s) > 9.0e15) {
                        throw PaftException.usage(g.where() + ": seed must be an integer (got " + s + ")");
                    }
                }
                default -> { }
            }
        }
    }

    private static void checkInput(Params p) {
        for (String k : p.values().keySet()) {
            switch (k) {
                case "weight" -> finite(p, "weight");
                case "density" -> {
                    double d = p.number("density");
                    if (!(d > 0 && d <= 1)) {
                        throw PaftException.usage(p.where() + ": density must be in (0, 1] (got " + d + ")");
                    }
                }
                case "gamma" -> {
                    double gm = p.number("gamma");
                    if (!(gm >= 0 && gm < 1)) {
                        throw PaftException.usage(p.where() + ": gamma must be in [0, 1) (got " + gm + ")");
                    }
                }
                default -> { }
            }
        }
    }

    private static void finite(Params p, String k) {
        double v = p.number(k);
        if (!Double.isFinite(v)) {
            throw PaftException.usage(p.where() + ": " + k + " must be finite (got " + v + ")");
        }
    }

    /** A loaded tensor: the base and the inputs as float32, or the raw base bytes for passthrough. */
    private record Loaded(Job job, float[] base, float[][] inputs, int permits) {}

    /** A merged tensor on its way to the writer. */
    private record Merged(Job job, float[] values, float[][] arrays, int permits) {}

    private static Result execute(MergeMethod method, MergeSpec spec, Opened o, List<Job> jobs,
                                  long shardBytes, Path out, Options opt, long t0) {
        try {
            return stream(method, spec, o, jobs, shardBytes, out, opt, t0);
        } catch (java.io.UncheckedIOException e) {
            throw outputFailure(out, e.getCause(), jobs);
        }
    }

    private static Result stream(MergeMethod method, MergeSpec spec, Opened o, List<Job> jobs,
                                 long shardBytes, Path out, Options opt, long t0) {
        TensorStore ref = o.ref();
        boolean hasBase = o.hasBase();
        List<MergeSource> sources = o.sources();
        Path tmp = AtomicFiles.tempDirFor(out);
        // LOADERS loader threads; results are taken in job order
        ExecutorService loader = Executors.newFixedThreadPool(LOADERS, daemon("paft-merge-load"));
        ExecutorService loadHelper = Executors.newSingleThreadExecutor(daemon("paft-merge-load2"));
        ExecutorService writerPool = Executors.newSingleThreadExecutor(daemon("paft-merge-write"));
        ShardedWriter writer = null;
        boolean ok = false;
        try {
            // metadata: method, inputs, parameters (also in merge_config.yaml beside the weights)
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put("merge_method", method.name());
            if (o.baseRef() != null) {
                meta.put("merge_base", o.baseRef().display());
            }
            meta.put("merge_inputs", Json.MAPPER.valueToTree(o.inputRefs().stream().map(MergeSource.Ref::display).toList()).toString());
            Map<String, Object> params = new LinkedHashMap<>(spec.parameters());
            if (opt.seed() != null && method.parameters().containsKey("seed")) {
                params.put("seed", opt.seed());
            }
            meta.put("merge_parameters", Json.MAPPER.valueToTree(params).toString());
            List<Object> per = new ArrayList<>();
            for (MergeSpec.Input in : spec.models()) {
                // insertion-ordered: Map.of iterates in an order that changes from run to run
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("model", in.model());
                entry.put("parameters", in.parameters());
                per.add(entry);
            }
            meta.put("merge_models", Json.MAPPER.valueToTree(per).toString());
            writer = new ShardedWriter(tmp, "model", jobs.stream().map(Job::spec).toList(), shardBytes, meta);

            long largest = jobs.stream().mapToLong(Job::floatBytes).max().orElse(0);
            long budget = Math.max(largest, opt.memoryBudget() > 0 ? opt.memoryBudget() : 768L << 20);
            int totalPermits = (int) Math.min(Integer.MAX_VALUE, (budget + (1 << 20) - 1) >> 20);
            Semaphore memory = new Semaphore(totalPermits);
            // -Dpaft.merge.profile=true: busy time per stage on stderr (load / merge / check / write)
            boolean profile = Boolean.getBoolean("paft.merge.profile");
            java.util.concurrent.atomic.AtomicLongArray busy = new java.util.concurrent.atomic.AtomicLongArray(8);
            java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
            // float arrays are reused across tensors of the same shape (no per-tensor garbage); the
            // pool keeps free arrays only while free + in-flight stays within the budget
            FloatPool pool = new FloatPool((long) totalPermits << 20,
                    () -> (long) (totalPermits - memory.availablePermits()) << 20);
            long seed = 42;

            // stage 1 (loader thread): read, widen, task vectors - bounded by the memory semaphore
            List<Future<Loaded>> loads = new ArrayList<>();
            // memory is taken strictly in job order: a later job never holds what an earlier one
            // waits for (the earlier one must be merged and written first, or nothing moves)
            int[] turn = {0};
            for (int jobIndex = 0; jobIndex < jobs.size(); jobIndex++) {
                Job job = jobs.get(jobIndex);
                int myTurn = jobIndex;
                loads.add(loader.submit(() -> {
                    int permits = (int) Math.min(totalPermits, Math.max(1, (job.floatBytes() + (1 << 20) - 1) >> 20));
                    long w0 = System.nanoTime();
                    synchronized (turn) {
                        while (turn[0] != myTurn) {
                            turn.wait();
                        }
                    }
                    try {
                        memory.acquire(permits);
                    } finally {
                        synchronized (turn) {
                            turn[0]++;
                            turn.notifyAll();
                        }
                    }
                    long a0 = System.nanoTime();
                    long ac = profile ? threads.getCurrentThreadCpuTime() : 0;
                    busy.addAndGet(4, a0 - w0);
                    if (job.passthrough()) {
                        return new Loaded(job, null, null, permits);
                    }
                    String name = job.spec().name();
                    float[] b = null;
                    if (hasBase) {
                        b = pool.get((int) ref.info(name).numel());
                        ref.readFloats(name, b, null);
                        if (o.baseLora() != null) {
                            o.baseLora().addDeltaTo(name, b); // base_model: BASE+LORA
                        }
                    }
                    float[][] in = new float[sources.size()][];
                    final float[] fb = b;
                    java.util.function.IntFunction<float[]> read = i -> method.usesDeltas()
                            ? sources.get(i).delta(name, fb, pool) : sources.get(i).model(name, fb, pool);
                    if (in.length > 1 && job.floatBytes() >= 4L * (in.length + 1) * TaskArithmeticMerge.PARALLEL_MIN) {
                        // the inputs of a large tensor are read two at a time (odd ones on the helper):
                        // the same arrays, so no more memory in flight, and reads overlap conversions
                        List<Future<?>> odd = new ArrayList<>();
                        for (int i = 1; i < in.length; i += 2) {
                            int ii = i;
                            odd.add(loadHelper.submit(() -> {
                                long hc = profile ? threads.getCurrentThreadCpuTime() : 0;
                                in[ii] = read.apply(ii);
                                if (profile) {
                                    busy.addAndGet(7, threads.getCurrentThreadCpuTime() - hc);
                                }
                            }));
                        }
                        for (int i = 0; i < in.length; i += 2) {
                            in[i] = read.apply(i);
                        }
                        for (Future<?> f : odd) {
                            get(f);
                        }
                    } else {
                        for (int i = 0; i < in.length; i++) {
                            in[i] = read.apply(i);
                        }
                    }
                    busy.addAndGet(0, System.nanoTime() - a0);
                    if (profile) {
                        busy.addAndGet(5, threads.getCurrentThreadCpuTime() - ac);
                    }
                    return new Loaded(job, b, in, permits);
                }));
            }
            // stage 2 (this thread): merge and check; stage 3 (writer thread): narrow and write in order
            List<Future<?>> writes = new ArrayList<>();
            int checkedWrites = 0;
            final ShardedWriter w = writer;
            int done = 0;
            long lastLog = System.nanoTime();
            for (int idx = 0; idx < loads.size(); idx++) {
                Loaded l = get(loads.get(idx));
                loads.set(idx, null); // a finished future holds its result: drop it so the arrays can be freed
                Job job = l.job();
                Merged merged;
                if (job.passthrough()) {
                    merged = new Merged(job, null, null, l.permits());
                } else {
                    long s = job.global().values().containsKey("seed") ? (long) job.global().number("seed") : seed;
                    long m0 = System.nanoTime();
                    float[] v;
                    try {
                        v = method.merge(new MergeMethod.MergeTensor(job.spec().name(), l.base(), l.inputs(),
                                job.global(), job.perInput(), s));
                    } catch (NonFiniteInputException e) {
                        throw nonFiniteInput(e, job.spec().name(), l.base(), o.inputs());
                    }
                    long m1 = System.nanoTime();
                    if (job.spec().dtype() != DType.BF16) {
                        checkFinite(job.spec().name(), v); // BF16: found by the writer's conversion loop
                    }
                    busy.addAndGet(1, m1 - m0);
                    busy.addAndGet(2, System.nanoTime() - m1);
                    float[][] arrays = new float[l.inputs().length + 2][];
                    arrays[0] = v;
                    arrays[1] = l.base();
                    System.arraycopy(l.inputs(), 0, arrays, 2, l.inputs().length);
                    merged = new Merged(job, v, arrays, l.permits());
                }
                writes.add(writerPool.submit(() -> {
                    long x0 = System.nanoTime();
                    long xc = profile ? threads.getCurrentThreadCpuTime() : 0;
                    try {
                        if (merged.values() == null) {
                            w.write(merged.job().spec().name(), ref.bytes(merged.job().spec().name()));
                        } else {
                            if (!w.writeFloats(merged.job().spec().name(), merged.values())) {
                                // non-finite values: exit 4 naming the first (the output is removed)
                                checkFinite(merged.job().spec().name(), merged.values());
                            }
                            pool.release(merged.arrays());
                        }
                    } finally {
                        // also on failure: the loader must not wait for memory the merge thread never gets back
                        memory.release(merged.permits());
                    }
                    busy.addAndGet(3, System.nanoTime() - x0);
                    if (profile) {
                        busy.addAndGet(6, threads.getCurrentThreadCpuTime() - xc);
                    }
                    return null;
                }));
                // surface a writer failure (a non-finite tensor included) early: every finished write, in order
                while (checkedWrites < writes.size() && writes.get(checkedWrites).isDone()) {
                    get(writes.get(checkedWrites++));
                }
                done++;
                if (System.nanoTime() - lastLog > 5_000_000_000L) {
                    opt.log().accept(String.format("merged %d/%d tensors", done, jobs.size()));
                    lastLog = System.nanoTime();
                }
            }
            for (Future<?> wf : writes) {
                get(wf);
            }
            long c0 = System.nanoTime();
            writer.close();
            if (profile) {
                System.err.printf("merge profile (s busy): load %.1f (cpu %.1f + helper %.1f; waiting for memory %.1f) | merge %.1f | check %.1f | "
                        + "write %.1f (cpu %.1f) | final fsync %.1f | wall %.1f%n", busy.get(0) / 1e9, busy.get(5) / 1e9,
                        busy.get(7) / 1e9, busy.get(4) / 1e9, busy.get(1) / 1e9, busy.get(2) / 1e9, busy.get(3) / 1e9, busy.get(6) / 1e9, (System.nanoTime() - c0) / 1e9, (System.nanoTime() - t0) / 1e9);
            }
            int shards = writer.shardCount();
            // 6. config.json (torch_dtype), tokenizer and generation files, merge_config.yaml
            Path filesFrom = o.baseRef() != null ? o.baseRef().model() : sources.get(0).dir();
            writeSideFiles(filesFrom, tmp, spec, method, o.baseRef(), jobs, opt.seed(), out);
            AtomicFiles.commitDir(tmp, out, opt.overwrite());
            ok = true;
            long bytes = jobs.stream().mapToLong(j -> j.spec().byteSize()).sum();
            return new Result(out, jobs.size(), shards, bytes, (System.nanoTime() - t0) / 1e9);
        } finally {
            loader.shutdownNow();
            loadHelper.shutdownNow();
            writerPool.shutdownNow();
            if (!ok) {
                awaitQuietly(loader);
                awaitQuietly(loadHelper);
                awaitQuietly(writerPool);
                if (writer != null) {
                    writer.abort();
                }
                AtomicFiles.deleteQuietly(tmp);
            }
        }
    }

    private static void writeSideFiles(Path from, Path tmp, MergeSpec spec, MergeMethod method, MergeSource.Ref baseRef,
                                       List<Job> jobs, Long seedOverride, Path out) {
        try {
            JsonNode cfg = Json.readObject(from.resolve("config.json"));
            if (cfg instanceof ObjectNode o) {
                DType dt = jobs.stream().filter(j -> !j.passthrough()).map(j -> j.spec().dtype()).findFirst().orElse(null);
                if (dt != null && jobs.stream().filter(j -> !j.passthrough()).allMatch(j -> j.spec().dtype() == dt)) {
                    o.put("torch_dtype", dt.torchName());
                }
            }
            Json.write(tmp.resolve("config.json"), cfg);
            for (String f : COPIED) {
                Path src = from.resolve(f);
                if (Files.isRegularFile(src)) {
                    Files.copy(src, tmp.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            List<String> models = new ArrayList<>();
            for (MergeSpec.Input in : spec.models()) {
                models.add(spec.resolveRef(in.model(), "models").display());
            }
            boolean random = method.parameters().containsKey("seed");
            Object given = spec.parameters().get("seed");
            Long seed = !random ? null : seedOverride != null ? seedOverride
                    : given == null ? Long.valueOf(42) : given instanceof Number n ? Long.valueOf(n.longValue()) : null;
            Files.writeString(tmp.resolve("merge_config.yaml"), spec.toMergekitYaml(models,
                    baseRef == null ? null : baseRef.display(), random, seed));
        } catch (IOException e) {
            throw outputFailure(out, e, jobs);
        } catch (PaftException e) {
            if (e.getCause() instanceof IOException io) { // Json.write
                throw outputFailure(out, io, jobs);
            }
            throw e;
        }
    }

    /**
     * An output write that failed (exit 3, one line): the output location the user chose cannot
     * take the merged model. Exit 3 rather than 1 because the fault is in a path the user gave and
     * can act on (free space, another {@code --out}), as for an output directory that cannot be
     * created; exit 1 stays for paft's own defects. A full disk says "no space left on" the file
     * system, with what the merge needs.
     */
    static PaftException outputFailure(Path out, Throwable e, List<Job> jobs) {
        String msg = e == null ? "unknown error" : String.valueOf(e.getMessage());
        for (Throwable c = e; c != null; c = c.getCause()) {
            String m = String.valueOf(c.getMessage());
            if (m.contains("No space left on device") || m.contains("Disk quota exceeded")) {
                return PaftException.badInput("no space left on " + fileSystemOf(out) + " while writing " + out
                        + " (the merged model needs " + human(outputBytes(jobs)) + "); free space or choose another --out; nothing was written", e);
            }
            msg = m;
        }
        return PaftException.badInput("cannot write the merged model to " + out + ": " + msg + "; nothing was written", e);
    }

    /** Fails early (exit 3) when the output's file system has less usable space than the merged tensors need. */
    static void checkSpace(Path out, List<Job> jobs) {
        long need = outputBytes(jobs);
        Path p = out.getParent();
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        if (p == null) {
            return;
        }
        try {
            long free = Files.getFileStore(p).getUsableSpace();
            if (free < need) {
                throw PaftException.badInput("no space left on " + fileSystemOf(out) + " for " + out + ": the merged model needs "
                        + human(need) + ", " + human(free) + " free; free space or choose another --out; nothing was written");
            }
        } catch (IOException ignored) {
            // no usable-space figure: the writes report a full disk
        }
    }

    private static long outputBytes(List<Job> jobs) {
        return jobs.stream().mapToLong(j -> j.spec().byteSize()).sum();
    }

    private static String fileSystemOf(Path out) {
        Path p = out.toAbsolutePath().getParent();
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        try {
            return p == null ? String.valueOf(out) : "the file system of " + p + " (" + Files.getFileStore(p) + ")";
        } catch (IOException e) {
            return String.valueOf(p);
        }
    }

    private static String human(long bytes) {
        return bytes >= 1_000_000_000L ? String.format("%.1f GB", bytes / 1e9)
                : bytes >= 1_000_000L ? String.format("%.1f MB", bytes / 1e6)
                : String.format("%.1f KB", bytes / 1e3);
    }

    /**
     * Exit 4 for a NaN or Inf in an input of a method that would otherwise drop it silently (ties,
     * dare_ties, breadcrumbs...): names the input, or the base when its own value is the cause.
     */
    private static PaftException nonFiniteInput(NonFiniteInputException e, String tensor, float[] base, List<MergeSpec.Input> inputs) {
        long j = e.element();
        String at = j < 0 ? " holds NaN or Inf" : " has " + e.value() + " at element " + j;
        if (j >= 0 && base != null && j < base.length && !Float.isFinite(base[(int) j])) {
            return PaftException.numeric("base model: tensor '" + tensor + "' has " + base[(int) j] + " at element " + j
                    + "; nothing was written");
        }
        String who = e.input() >= 0 && e.input() < inputs.size() ? "input " + inputs.get(e.input()).model() : "an input";
        return PaftException.numeric(who + ": tensor '" + tensor + "'" + at + " (in its task vector, model - base); nothing was written");
    }

    /** Exit 4 naming the tensor and the first bad element when a merged tensor holds NaN or Inf. */
    static void checkFinite(String name, float[] v) {
        if (Floats.allFinite(v, 0, v.length)) {
            return;
        }
        for (int j = 0; j < v.length; j++) {
            if (!Float.isFinite(v[j])) {
                throw PaftException.numeric("merged tensor '" + name + "' has " + v[j] + " at element " + j
                        + " (check the inputs and the weights); nothing was written");
            }
        }
    }

    private static <T> T get(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PaftException(PaftException.INTERNAL, "merge interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error er) {
                throw er;
            }
            throw new PaftException(PaftException.INTERNAL, String.valueOf(c), c);
        }
    }

    private static void awaitQuietly(ExecutorService e) {
        try {
            e.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** Parses a shard size: bytes, or a number with KB/MB/GB (powers of 1000) or KiB/MiB/GiB. */
    public static long parseSize(String s) {
        String t = s.trim().toUpperCase().replace(" ", "");
        long mult = 1;
        String[][] units = {{"KIB", "1024"}, {"MIB", "1048576"}, {"GIB", "1073741824"}, {"KB", "1000"},
            {"MB", "1000000"}, {"GB", "1000000000"}, {"K", "1000"}, {"M", "1000000"}, {"G", "1000000000"}, {"B", "1"}};
        for (String[] u : units) {
            if (t.endsWith(u[0])) {
                mult = Long.parseLong(u[1]);
                t = t.substring(0, t.length() - u[0].length());
                break;
            }
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0)) {
                throw new NumberFormatException();
            }
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw PaftException.usage("shard_size '" + s + "' is not a size (e.g. 5GB, 500MB, 2GiB)");
        }
    }
}
