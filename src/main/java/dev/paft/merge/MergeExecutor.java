package dev.paft.merge;

import dev.paft.errors.Futures;
import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.TensorStore;
import dev.paft.merge.MergePlan.Job;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * The middle stage of a merge: the plan's tensors streamed through three overlapping stages on their
 * own threads, load (positional reads, widen to float32, task vectors) / merge (the method, the
 * finite check) / write (narrow, write; {@link MergeOutput}), under a byte budget taken strictly in
 * tensor order, so peak memory is a small multiple of the largest tensor times the number of inputs,
 * whatever the model size. mergekit's executor (mergekit/graph.py) runs a task graph; paft's plan is
 * a list, so a fixed pipeline does.
 */
final class MergeExecutor {
    /**
     * Loader threads (read, widen, task vectors). 2 was tried on a loaded 2-core machine: no
     * measurable gain and a higher RSS peak (1.49 GB), so 1; memory is taken in job order either way.
     * Within a large tensor the inputs are read two at a time (a helper thread takes the odd ones).
     */
    static final int LOADERS = 1;

    private MergeExecutor() {}

    /** A loaded tensor: the base and the inputs as float32, or the raw base bytes for passthrough. */
    private record Loaded(Job job, float[] base, float[][] inputs, int permits) {}

    /** A merged tensor on its way to the writer. */
    private record Merged(Job job, float[] values, float[][] arrays, int permits) {}

    /**
     * Merges and writes every tensor of the plan into {@code output}, then completes its shards;
     * returns the shard count. On failure every thread has stopped when this throws.
     *
     * @param memoryBudget bytes of float buffers in flight (0 = automatic, 768 MB or the largest tensor's need)
     */
    static int run(MergePlan plan, MergeOutput output, long memoryBudget, Consumer<String> log, long t0) {
        MergeMethod method = plan.method();
        List<Job> jobs = plan.jobs();
        TensorStore ref = plan.ref();
        boolean hasBase = plan.hasBase();
        List<MergeSource> sources = plan.sources();
        // LOADERS loader threads; results are taken in job order
        ExecutorService loader = Executors.newFixedThreadPool(LOADERS, daemon("paft-merge-load"));
        ExecutorService loadHelper = Executors.newSingleThreadExecutor(daemon("paft-merge-load2"));
        ExecutorService writerPool = Executors.newSingleThreadExecutor(daemon("paft-merge-write"));
        boolean ok = false;
        try {
            long largest = jobs.stream().mapToLong(Job::floatBytes).max().orElse(0);
            long budget = Math.max(largest, memoryBudget > 0 ? memoryBudget : 768L << 20);
            int totalPermits = (int) Math.min(Integer.MAX_VALUE, (budget + (1 << 20) - 1) >> 20);
            Semaphore memory = new Semaphore(totalPermits);
            // -Dpaft.merge.profile=true: busy time per stage on stderr (load / merge / check / write)
            boolean profile = Boolean.getBoolean("paft.merge.profile");
            AtomicLongArray busy = new AtomicLongArray(8);
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            // float arrays are reused across tensors of the same shape (no per-tensor garbage); the
            // pool keeps free arrays only while free + in-flight stays within the budget
            FloatPool pool = new FloatPool(
                    (long) totalPermits << 20, () -> (long) (totalPermits - memory.availablePermits()) << 20);
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
                    if (job.embed() != null) { // rows permuted into the merged vocabulary (TokenizerMerge)
                        float[][] all = loadEmbedding(plan, job);
                        return new Loaded(job, all[0], Arrays.copyOfRange(all, 1, all.length), permits);
                    }
                    float[] b = readBase(plan, job, pool);
                    float[][] in = new float[job.inputCount(sources.size())][];
                    final float[] fb = b;
                    IntFunction<float[]> read = i -> method.usesDeltas()
                            ? sources.get(job.source(i)).delta(job.inputName(i), fb, pool)
                            : sources.get(job.source(i)).model(job.inputName(i), fb, pool);
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
                    long s = job.global().values().containsKey("seed")
                            ? (long) job.global().number("seed")
                            : seed;
                    long m0 = System.nanoTime();
                    float[] v;
                    List<float[]> scratch = new ArrayList<>();
                    try {
                        v = method.merge(new MergeMethod.MergeTensor(
                                job.spec().name(),
                                job.spec().shape(),
                                l.base(),
                                l.inputs(),
                                job.global(),
                                job.perInput(),
                                s,
                                n -> {
                                    if (scratch.size() >= method.scratchArrays()) {
                                        throw new IllegalStateException(
                                                method.name() + " asked for more scratch arrays than it declares");
                                    }
                                    float[] a = pool.get(n);
                                    scratch.add(a);
                                    return a;
                                }));
                    } catch (NonFiniteInputException e) {
                        NonFiniteInputException m = e.input() < 0 || e.input() >= job.inputCount(sources.size())
                                ? e
                                : new NonFiniteInputException(job.source(e.input()), e.element(), e.value());
                        throw nonFiniteInput(m, job.spec().name(), l.base(), plan.inputs());
                    }
                    long m1 = System.nanoTime();
                    if (job.spec().dtype() != DType.BF16) {
                        checkFinite(job.spec().name(), v); // BF16: found by the writer's conversion loop
                    }
                    busy.addAndGet(1, m1 - m0);
                    busy.addAndGet(2, System.nanoTime() - m1);
                    float[][] arrays = new float[l.inputs().length + 2 + scratch.size()][];
                    arrays[0] = v;
                    arrays[1] = l.base();
                    System.arraycopy(l.inputs(), 0, arrays, 2, l.inputs().length);
                    for (int k = 0; k < scratch.size(); k++) {
                        arrays[2 + l.inputs().length + k] = scratch.get(k);
                    }
                    merged = new Merged(job, v, arrays, l.permits());
                }
                writes.add(writerPool.submit(() -> {
                    long x0 = System.nanoTime();
                    long xc = profile ? threads.getCurrentThreadCpuTime() : 0;
                    try {
                        if (merged.values() == null) {
                            Job pj = merged.job();
                            output.write(
                                    pj.spec().name(),
                                    pj.sourceIdx() == null
                                            ? ref.bytes(pj.spec().name())
                                            : SlicePlan.store(sources.get(pj.source(0)))
                                                    .bytes(pj.inputName(0)));
                        } else {
                            if (!output.writeFloats(merged.job().spec().name(), merged.values())) {
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
                while (checkedWrites < writes.size()
                        && writes.get(checkedWrites).isDone()) {
                    get(writes.get(checkedWrites++));
                }
                done++;
                if (System.nanoTime() - lastLog > 5_000_000_000L) {
                    log.accept(String.format("merged %d/%d tensors", done, jobs.size()));
                    lastLog = System.nanoTime();
                }
            }
            for (Future<?> wf : writes) {
                get(wf);
            }
            long c0 = System.nanoTime();
            int shards = output.closeShards();
            if (profile) {
                System.err.printf(
                        "merge profile (s busy): load %.1f (cpu %.1f + helper %.1f; waiting for memory %.1f) | merge %.1f | check %.1f | "
                                + "write %.1f (cpu %.1f) | final fsync %.1f | wall %.1f%n",
                        busy.get(0) / 1e9,
                        busy.get(5) / 1e9,
                        busy.get(7) / 1e9,
                        busy.get(4) / 1e9,
                        busy.get(1) / 1e9,
                        busy.get(2) / 1e9,
                        busy.get(3) / 1e9,
                        busy.get(6) / 1e9,
                        (System.nanoTime() - c0) / 1e9,
                        (System.nanoTime() - t0) / 1e9);
            }
            ok = true;
            return shards;
        } finally {
            loader.shutdownNow();
            loadHelper.shutdownNow();
            writerPool.shutdownNow();
            if (!ok) {
                awaitQuietly(loader);
                awaitQuietly(loadHelper);
                awaitQuietly(writerPool);
            }
        }
    }

    /**
     * The base tensor of a job, or null: the reference store's ({@code base_model: BASE+LORA} with
     * its adapter applied), or for a slice's job the slice's base among its sources.
     */
    private static float[] readBase(MergePlan plan, Job job, FloatPool pool) {
        if (job.baseSource() >= 0) {
            return plan.sources().get(job.baseSource()).model(job.baseTensor(), null, pool);
        }
        if (!plan.hasBase() || job.sourceIdx() != null) {
            return null;
        }
        String name = job.baseTensor();
        float[] b = pool.get((int) plan.ref().info(name).numel());
        plan.ref().readFloats(name, b, null);
        if (plan.baseLora() != null) {
            plan.baseLora().addDeltaTo(name, b); // base_model: BASE+LORA
        }
        return b;
    }

    /**
     * An embedding job of a tokenizer merge: every model's rows (the base's included) read whole,
     * permuted into the merged vocabulary ({@link TokenizerMerge#permute}), then the task vectors
     * taken when the method uses them. Returns {base (or null), inputs...}.
     */
    private static float[][] loadEmbedding(MergePlan plan, Job job) {
        float[] base = readBase(plan, job, new FloatPool(0, () -> 0L));
        int n = job.inputCount(plan.sources().size());
        List<String> keys = new ArrayList<>();
        List<float[]> raw = new ArrayList<>();
        int[] at = new int[n];
        for (int i = 0; i < n; i++) {
            MergeSource.Ref r = plan.inputRefs().get(job.source(i));
            String key = r.display();
            int k = keys.indexOf(key);
            if (k < 0) {
                k = keys.size();
                keys.add(key);
                raw.add(plan.sources().get(job.source(i)).model(job.inputName(i), base));
            }
            at[i] = k;
        }
        String baseKey = null;
        int baseAt = -1;
        if (base != null) {
            baseKey = job.baseSource() >= 0
                    ? plan.inputRefs().get(job.baseSource()).display()
                    : plan.baseRef().display();
            baseAt = keys.indexOf(baseKey);
            if (baseAt < 0) {
                baseAt = keys.size();
                keys.add(baseKey);
                raw.add(base);
            }
        }
        int hidden = (int) (job.spec().numel() / job.spec().shape()[0]);
        float[][] p = TokenizerMerge.permute(
                job.embed(),
                keys,
                raw,
                hidden,
                baseKey,
                s -> plan.spec().resolveRef(s, "tokenizer").display(),
                job.spec().name());
        float[][] out = new float[n + 1][];
        out[0] = baseAt < 0 ? null : p[baseAt];
        boolean[] taken = new boolean[p.length];
        if (baseAt >= 0) {
            taken[baseAt] = true;
        }
        for (int i = 0; i < n; i++) {
            // each input its own array (the method may write into it): a copy only when shared
            float[] x = taken[at[i]] ? p[at[i]].clone() : p[at[i]];
            taken[at[i]] = true;
            if (plan.method().usesDeltas() && out[0] != null) {
                for (int j = 0; j < x.length; j++) {
                    x[j] -= out[0][j];
                }
            }
            out[i + 1] = x;
        }
        return out;
    }

    /**
     * Exit 4 for a NaN or Inf in an input of a method that would otherwise drop it silently (ties,
     * dare_ties, breadcrumbs...): names the input, or the base when its own value is the cause.
     */
    private static PaftException nonFiniteInput(
            NonFiniteInputException e, String tensor, float[] base, List<MergeSpec.Input> inputs) {
        long j = e.element();
        String at = j < 0 ? " holds NaN or Inf" : " has " + e.value() + " at element " + j;
        if (j >= 0 && base != null && j < base.length && !Float.isFinite(base[(int) j])) {
            return PaftException.numeric("base model: tensor '" + tensor + "' has " + base[(int) j] + " at element " + j
                    + "; nothing was written");
        }
        String who = e.input() >= 0 && e.input() < inputs.size()
                ? "input " + inputs.get(e.input()).model()
                : "an input";
        return PaftException.numeric(
                who + ": tensor '" + tensor + "'" + at + " (in its task vector, model - base); nothing was written");
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
        return Futures.get(f);
    }

    private static void awaitQuietly(ExecutorService e) {
        try {
            e.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
    }

    private static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
