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

    /** Validates, plans and runs the merge. */
    public static Result run(MergeSpec spec, Options opt) {
        long t0 = System.nanoTime();
        // 1. cheap checks first: method, output target, dtypes, shard size
        MergeMethod method = MergeMethods.get(spec.method());
        Path out = opt.out().toAbsolutePath().normalize();
        AtomicFiles.checkWritable(out, opt.overwrite());
        DType outDtype = spec.outDtype() != null ? DType.parseUser(spec.outDtype(), "out_dtype")
                : spec.dtype() != null ? DType.parseUser(spec.dtype(), "dtype") : null;
        long shardBytes = parseSize(spec.shardSize() == null ? "5GB" : spec.shardSize());
        Path baseDir = spec.base() == null ? null : spec.resolve(spec.base(), "base_model");
        if (method.needsBase() && baseDir == null) {
            throw PaftException.usage(method.name() + " needs a base model (base / base_model / --base)");
        }
        // 2. inputs: for delta methods and slerp the base itself is not an input
        List<MergeSpec.Input> inputs = new ArrayList<>();
        List<Path> inputDirs = new ArrayList<>();
        for (MergeSpec.Input in : spec.models()) {
            Path p = spec.resolve(in.model(), "models");
            if ((method.usesDeltas() || method instanceof SlerpMerge) && baseDir != null && samePath(p, baseDir)) {
                continue;
            }
            inputs.add(in);
            inputDirs.add(p);
        }
        method.validateInputs(inputs.size());
        for (Path p : inputDirs) {
            if (samePath(p, out)) {
                throw PaftException.usage("the output " + out + " is also an input");
            }
        }
        if (baseDir != null && samePath(baseDir, out)) {
            throw PaftException.usage("the output " + out + " is the base model");
        }
        List<MergeSource> sources = new ArrayList<>();
        TensorStore base = null;
        try {
            // 3. open everything (headers only) and check names, shapes and adapter targets
            if (baseDir != null) {
                if (!Files.isDirectory(baseDir)) {
                    throw PaftException.badInput(baseDir + ": base model not found (paft merge reads local directories)");
                }
                if (!Files.isRegularFile(baseDir.resolve("config.json"))) {
                    throw PaftException.badInput(baseDir + ": base model has no config.json");
                }
                base = TensorStore.openModel(baseDir);
            }
            for (Path p : inputDirs) {
                sources.add(MergeSource.open(p));
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
            List<Job> jobs = plan(method, spec, inputs, ref, outDtype, opt.seed());
            // 5. stream
            return execute(method, spec, ref, base != null, sources, inputDirs, baseDir, jobs, shardBytes, out, opt, t0);
        } finally {
            for (MergeSource s : sources) {
                s.close();
            }
            if (base != null) {
                base.close();
            }
        }
    }

    private static TensorStore referenceStore(List<MergeSource> sources) {
        if (sources.get(0) instanceof MergeSource.FullModel fm) {
            for (MergeSource s : sources) {
                if (s instanceof MergeSource.Adapter a) {
                    throw PaftException.usage(a.dir() + ": a LoRA adapter input needs a base model");
                }
            }
            return fm.store();
        }
        throw PaftException.usage(sources.get(0).dir() + ": a LoRA adapter input needs a base model");
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

    /** Interpolation point of a tensor for layer gradients: embeddings 0, layer i at i/(L-1), the rest 1. */
    static double tOf(String name, int numLayers) {
        Matcher m = LAYER.matcher(name);
        if (m.find()) {
            int i = Integer.parseInt(m.group(1));
            return numLayers > 1 ? (double) i / (numLayers - 1) : 1.0;
        }
        return name.contains("embed_tokens") || name.contains("wte") ? 0.0 : 1.0;
    }

    static List<Job> plan(MergeMethod method, MergeSpec spec, List<MergeSpec.Input> inputs, TensorStore ref,
                          DType outDtype, Long seedOverride) {
        Map<String, Object> gdefs = method.parameters();
        Map<String, Object> tdefs = method.tensorParameters();
        // unknown keys are errors; mergekit allows per-input parameters at the top level as defaults
        for (String k : spec.parameters().keySet()) {
            if (!gdefs.containsKey(k) && !tdefs.containsKey(k)) {
                throw PaftException.usage("parameters." + k + ": not a parameter of " + method.name() + " (known: "
                        + String.join(", ", union(gdefs, tdefs)) + ")");
            }
        }
        Map<String, ParamValue> global = new LinkedHashMap<>();
        spec.parameters().forEach((k, v) -> global.put(k, ParamValue.parse(v, "parameters." + k)));
        if (seedOverride != null && gdefs.containsKey("seed")) {
            global.put("seed", new ParamValue.Scalar(seedOverride.doubleValue()));
        }
        List<Map<String, ParamValue>> per = new ArrayList<>();
        for (MergeSpec.Input in : inputs) {
            Map<String, ParamValue> m = new LinkedHashMap<>();
            for (var e : in.parameters().entrySet()) {
                if (!tdefs.containsKey(e.getKey())) {
                    throw PaftException.usage(in.model() + ": parameters." + e.getKey() + ": not a per-model parameter of "
                            + method.name() + " (known: " + String.join(", ", tdefs.keySet()) + ")");
                }
                m.put(e.getKey(), ParamValue.parse(e.getValue(), in.model() + ": parameters." + e.getKey()));
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
                g.put(e.getKey(), value(global.get(e.getKey()), e.getValue(), name, t, "parameters." + e.getKey()));
            }
            Params gp = new Params("tensor '" + name + "'", g);
            checkGlobal(gp, name);
            List<Params> ps = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                Map<String, Object> v = new LinkedHashMap<>();
                for (var e : tdefs.entrySet()) {
                    ParamValue pv = per.get(i).get(e.getKey());
                    if (pv == null) {
                        pv = global.get(e.getKey());
                    }
                    v.put(e.getKey(), value(pv, e.getValue(), name, t, inputs.get(i).model() + ": " + e.getKey()));
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

    private static List<String> union(Map<String, Object> a, Map<String, Object> b) {
        List<String> out = new ArrayList<>(a.keySet());
        out.addAll(b.keySet());
        return out;
    }

    private static Object value(ParamValue pv, Object def, String tensor, double t, String where) {
        Object v = pv == null ? def : pv.resolve(tensor, t);
        if (v == null && pv != null) {
            v = def; // no filter matched and no fallback: the default
        }
        if (v == null) {
            throw PaftException.usage(where + " is required (no value for tensor '" + tensor + "')");
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
                case "rescale" -> TaskArithmeticMerge.rescaleOf(g);
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

    private static Result execute(MergeMethod method, MergeSpec spec, TensorStore ref, boolean hasBase,
                                  List<MergeSource> sources, List<Path> inputDirs, Path baseDir, List<Job> jobs,
                                  long shardBytes, Path out, Options opt, long t0) {
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
            if (baseDir != null) {
                meta.put("merge_base", baseDir.toString());
            }
            meta.put("merge_inputs", Json.MAPPER.valueToTree(inputDirs.stream().map(Path::toString).toList()).toString());
            Map<String, Object> params = new LinkedHashMap<>(spec.parameters());
            if (opt.seed() != null && method.parameters().containsKey("seed")) {
                params.put("seed", opt.seed());
            }
            meta.put("merge_parameters", Json.MAPPER.valueToTree(params).toString());
            List<Object> per = new ArrayList<>();
            for (MergeSpec.Input in : spec.models()) {
                per.add(Map.of("model", in.model(), "parameters", in.parameters()));
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
                    float[] v = method.merge(new MergeMethod.MergeTensor(job.spec().name(), l.base(), l.inputs(),
                            job.global(), job.perInput(), s));
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
            Path filesFrom = baseDir != null ? baseDir : sources.get(0).dir();
            writeSideFiles(filesFrom, tmp, spec, inputDirs, baseDir, jobs);
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

    private static void writeSideFiles(Path from, Path tmp, MergeSpec spec, List<Path> inputDirs, Path baseDir, List<Job> jobs) {
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
                models.add(spec.resolve(in.model(), "models").toAbsolutePath().normalize().toString());
            }
            Files.writeString(tmp.resolve("merge_config.yaml"), spec.toMergekitYaml(models,
                    baseDir == null ? null : baseDir.toAbsolutePath().normalize().toString()));
        } catch (IOException e) {
            throw new PaftException(PaftException.INTERNAL, "cannot write " + tmp + ": " + e.getMessage(), e);
        }
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
