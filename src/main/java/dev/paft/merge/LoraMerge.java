package dev.paft.merge;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.Json;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.PeftTargets;
import dev.paft.io.TensorStore;
import dev.paft.merge.MergePlan.Job;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * {@code paft merge --lora-out DIR}: when every input is a PEFT LoRA adapter on the same base, the
 * merged task vector is written as one PEFT adapter instead of a model (docs/merging.md, "LoRA
 * output"). Per adapted matrix the merged delta {@code Delta = merged - base} is factored by a
 * truncated SVD, {@code B = U_r sqrt(S_r)}, {@code A = sqrt(S_r) V_r^T}, with {@code lora_alpha = r}
 * (scaling 1) for every module ({@code rank_pattern} / {@code alpha_pattern} where ranks differ).
 *
 * <ul>
 *   <li>linear and task_arithmetic are linear in the adapters: {@code Delta = sum_i c_i s_i B_i A_i}
 *       with the coefficients {@code c_i} the method gives (weights, lambda, normalization: read off
 *       the method itself on unit vectors). Its SVD comes from the stacked factors
 *       ({@link TruncatedSvd#ofProduct}), never forming the d_out x d_in matrix, and at the default
 *       rank, the sum of the input ranks, it is exact.</li>
 *   <li>every other method (ties, dare_*, breadcrumbs*, ...) sparsifies or elects signs on the dense
 *       deltas: the merged tensor is computed by the method's own code exactly as the model merge does,
 *       {@code Delta = merged - base} is formed and truncated by a randomized SVD
 *       ({@link TruncatedSvd#randomized}); the truncation error is reported.</li>
 * </ul>
 * Refused (exit 2) before anything is written: an input that is not a LoRA adapter on the base, a
 * base with an adapter applied, adapters recording different bases, and methods whose result is not
 * the base plus a function of the deltas alone (slerp; linear whose weights do not sum to 1 without
 * normalize), found by running the method on small probes with two different bases.
 */
public final class LoraMerge {
    /** The per-tensor truncation report beside the adapter. */
    public static final String REPORT_FILE = "lora_merge_report.json";

    /** Files {@code --lora-out} writes (an existing output holding others is not overwritten). */
    public static final Predicate<String> FILES =
            n -> n.equals(PeftAdapter.WEIGHTS_FILE) || n.equals(PeftAdapter.CONFIG_FILE) || n.equals(REPORT_FILE);

    /** Methods linear in the task vectors: merged in the factored space. */
    static final Set<String> LINEAR = Set.of("linear", "task_arithmetic");

    /** Oversampling and power iterations of the randomized SVD (dense path). */
    static final int OVERSAMPLE = 10;

    static final int POWER_ITERS = 3;

    /** The dense path's search for an error target stops at this rank unless --lora-rank gives another cap. */
    static final int MAX_SEARCH_RANK = 512;

    /**
     * Options. {@code rank}: a fixed rank per matrix (null: the sum of the ranks of the inputs that
     * adapt it); {@code maxError}: the smallest rank whose relative Frobenius error is at most this
     * (capped by {@code rank} when both are given); {@code dtype}: of the factors (null: float32).
     */
    public record Options(
            Path out, boolean overwrite, Long seed, Integer rank, Double maxError, Consumer<String> log) {}

    /** One adapted matrix in the output. */
    public record TensorReport(
            String tensor,
            int rows,
            int cols,
            int rank,
            int inputRank,
            boolean factored,
            double norm,
            double relativeError,
            double sigmaMax,
            double sigmaLastKept,
            double sigmaFirstDropped) {}

    /** What a finished --lora-out merge did. */
    public record Result(
            Path out,
            List<TensorReport> tensors,
            int globalRank,
            double overallError,
            double maxError,
            String worstTensor,
            long bytes,
            double seconds) {}

    private LoraMerge() {}

    /** One input's LoRA factors of one module. */
    private record Factors(int input, float[] a, float[] b, int r, double scaling) {}

    /** Validates, plans, factors and writes the merged adapter. */
    public static Result run(MergeSpec spec, Options opt) {
        long t0 = System.nanoTime();
        MergeMethod method = MergeMethods.get(spec.method());
        Path out = opt.out().toAbsolutePath().normalize();
        AtomicFiles.checkWritable(out, opt.overwrite());
        if (opt.rank() != null && opt.rank() < 1) {
            throw PaftException.usage("--lora-rank must be a positive integer, got " + opt.rank());
        }
        if (opt.maxError() != null && !(opt.maxError() >= 0 && opt.maxError() < 1)) {
            throw PaftException.usage(
                    "--lora-error must be in [0, 1) (a relative Frobenius error), got " + opt.maxError());
        }
        if (spec.slices() != null) {
            throw PaftException.usage(
                    "--lora-out: 'slices' / 'modules' change the model's layers, which an adapter on the base"
                            + " cannot express; write a model with --out");
        }
        if (spec.tokenizer() != null) {
            throw PaftException.usage(
                    "--lora-out: a tokenizer merge (tokenizer_source / tokenizer / chat_template) changes the"
                            + " vocabulary or template, which an adapter on the base cannot carry; write a model with --out");
        }
        DType dtype = spec.outDtype() != null
                ? DType.parseUser(spec.outDtype(), "out_dtype")
                : spec.dtype() != null ? DType.parseUser(spec.dtype(), "dtype") : DType.F32;
        if (spec.base() == null) {
            throw PaftException.usage(
                    "--lora-out needs the adapters' base model (--base / base_model): the adapter is written against it");
        }
        MergeSource.Ref baseRef = spec.resolveRef(spec.base(), "base_model");
        if (baseRef.lora() != null) {
            throw PaftException.usage(
                    "--lora-out: base_model " + spec.base() + " has an adapter applied (BASE+LORA); the output adapter "
                            + "must apply to a plain base model: give the base alone and list " + baseRef.lora()
                            + " as an input");
        }
        try (MergePlan plan = MergePlan.open(spec, method, baseRef, out, null, opt.seed(), opt.log())) {
            List<MergeSource.Adapter> adapters = checkInputs(plan, baseRef);
            String baseName = commonBaseName(adapters);
            long seed0 = 42;
            // every tensor's parameters are checked against the method before any work
            Map<String, double[]> coefficients = new LinkedHashMap<>();
            for (Job job : plan.jobs()) {
                if (job.passthrough()) {
                    continue;
                }
                long seed = seedOf(job, seed0);
                probeBaseIndependent(method, job, plan.inputs().size(), seed);
                if (LINEAR.contains(method.name())) {
                    coefficients.put(
                            job.spec().name(),
                            linearCoefficients(method, job, plan.inputs().size(), seed));
                }
            }
            List<TensorReport> reports = new ArrayList<>();
            Map<String, PeftAdapter.LoraPair> modules = new LinkedHashMap<>();
            Map<String, Integer> ranks = new LinkedHashMap<>();
            double tail = 0;
            double total = 0;
            int done = 0;
            long lastLog = System.nanoTime();
            for (Job job : plan.jobs()) {
                String name = job.spec().name();
                if (job.passthrough() || !name.endsWith(".weight")) {
                    continue;
                }
                String module = name.substring(0, name.length() - ".weight".length());
                List<Factors> fs = factorsOf(plan, module);
                if (fs.isEmpty()) {
                    continue; // no input adapts it: its delta is 0 (checked by the probes), not in the adapter
                }
                long[] shape = plan.ref().info(name).shape();
                int rows = (int) shape[0];
                int cols = (int) shape[1];
                Piece p = LINEAR.contains(method.name())
                        ? factored(fs, coefficients.get(name), rows, cols, opt)
                        : dense(plan, method, job, fs, rows, cols, opt, seedOf(job, seed0));
                if (p == null) {
                    opt.log()
                            .accept("tensor '" + name
                                    + "': the merged delta is 0 (all its coefficients are 0); not in the adapter");
                    continue;
                }
                modules.put(
                        module,
                        new PeftAdapter.LoraPair(FloatTensor.of(p.a, p.rank, cols), FloatTensor.of(p.b, rows, p.rank)));
                ranks.put(module, p.rank);
                int inputRank = fs.stream().mapToInt(Factors::r).sum();
                reports.add(new TensorReport(
                        name,
                        rows,
                        cols,
                        p.rank,
                        inputRank,
                        p.factored,
                        Math.sqrt(p.norm2),
                        p.norm2 > 0 ? Math.sqrt(p.tail2 / p.norm2) : 0,
                        p.s.length > 0 ? p.s[0] : 0,
                        p.rank <= p.s.length ? p.s[p.rank - 1] : 0,
                        p.rank < p.s.length ? p.s[p.rank] : 0));
                tail += p.tail2;
                total += p.norm2;
                done++;
                if (System.nanoTime() - lastLog > 5_000_000_000L) {
                    opt.log().accept(String.format("factored %d matrices (%s)", done, name));
                    lastLog = System.nanoTime();
                }
            }
            if (modules.isEmpty()) {
                throw PaftException.usage(
                        "--lora-out: the merged delta is 0 on every adapted matrix; there is no adapter to write");
            }
            int globalRank = modeOf(ranks.values());
            PeftAdapterConfig cfg = outputConfig(
                    plan.ref(),
                    ranks,
                    globalRank,
                    baseName != null ? baseName : baseRef.display(),
                    commonDropout(adapters));
            double overall = total > 0 ? Math.sqrt(tail / total) : 0;
            TensorReport worst = reports.stream()
                    .max((x, y) -> Double.compare(x.relativeError(), y.relativeError()))
                    .orElseThrow();
            Path tmp = AtomicFiles.tempDirFor(out);
            boolean ok = false;
            try {
                Map<String, String> meta = new LinkedHashMap<>();
                meta.put("merge_method", method.name());
                meta.put("merge_base", baseRef.display());
                meta.put(
                        "merge_inputs",
                        Json.MAPPER
                                .valueToTree(plan.inputRefs().stream()
                                        .map(MergeSource.Ref::display)
                                        .toList())
                                .toString());
                meta.put("lora_rank_rule", rankRule(opt, method));
                new PeftAdapter(cfg, modules).write(tmp, dtype, meta);
                Json.write(
                        tmp.resolve(REPORT_FILE),
                        report(method, opt, plan, reports, globalRank, overall, worst, dtype));
                AtomicFiles.commitDir(tmp, out, opt.overwrite());
                ok = true;
            } finally {
                if (!ok) {
                    AtomicFiles.deleteQuietly(tmp);
                }
            }
            long bytes;
            try {
                bytes = Files.size(out.resolve(PeftAdapter.WEIGHTS_FILE));
            } catch (IOException e) {
                bytes = 0;
            }
            return new Result(
                    out,
                    reports,
                    globalRank,
                    overall,
                    worst.relativeError(),
                    worst.tensor(),
                    bytes,
                    (System.nanoTime() - t0) / 1e9);
        }
    }

    private static long seedOf(Job job, long dflt) {
        return job.global().values().containsKey("seed") ? (long) job.global().number("seed") : dflt;
    }

    /**
     * Every input must be a LoRA adapter on the base: a PEFT adapter directory, {@code BASE+LORA}
     * with BASE the base, or the base itself (a zero delta, as linear merges an unlisted base).
     * Returns the adapters in input order.
     */
    static List<MergeSource.Adapter> checkInputs(MergePlan plan, MergeSource.Ref baseRef) {
        List<MergeSource.Adapter> out = new ArrayList<>();
        for (int i = 0; i < plan.sources().size(); i++) {
            MergeSource s = plan.sources().get(i);
            String label = plan.inputRefs().get(i).display();
            if (s instanceof MergeSource.Adapter a) {
                out.add(a);
            } else if (s instanceof MergeSource.LoraApplied la) {
                if (!MergePlan.samePath(la.model().dir(), baseRef.model())) {
                    throw PaftException.usage(
                            "--lora-out needs every input to be a LoRA adapter on the same base: input " + label
                                    + " applies its adapter to " + la.model().dir() + ", not to the base "
                                    + baseRef.model());
                }
                out.add(la.lora());
            } else if (s instanceof MergeSource.FullModel fm) {
                if (!MergePlan.samePath(fm.dir(), baseRef.model())) {
                    throw PaftException.usage(
                            "--lora-out needs every input to be a LoRA adapter on the same base: input " + label
                                    + " is a full model (no adapter_config.json); merge it with --out");
                }
                // the base itself: a zero task vector (linear merges an unlisted base as an input)
            }
        }
        if (out.isEmpty()) {
            throw PaftException.usage("--lora-out needs LoRA adapter inputs; none of the inputs is one");
        }
        return out;
    }

    /** The base the adapters record ({@code base_model_name_or_path}); exit 2 when two differ. */
    static String commonBaseName(List<MergeSource.Adapter> adapters) {
        String name = null;
        Path from = null;
        for (MergeSource.Adapter a : adapters) {
            String n = a.config().baseModelNameOrPath();
            if (n == null || n.isBlank()) {
                continue;
            }
            if (name != null && !name.equals(n) && !sameDir(name, n)) {
                throw PaftException.usage("--lora-out needs every input to be a LoRA adapter on the same base: " + from
                        + " records base_model_name_or_path '" + name + "' but " + a.dir() + " records '" + n + "'");
            }
            if (name == null) {
                name = n;
                from = a.dir();
            }
        }
        return name;
    }

    private static boolean sameDir(String a, String b) {
        Path pa = Path.of(a);
        Path pb = Path.of(b);
        return Files.isDirectory(pa) && Files.isDirectory(pb) && MergePlan.samePath(pa, pb);
    }

    private static double commonDropout(List<MergeSource.Adapter> adapters) {
        double d = adapters.get(0).config().loraDropout();
        for (MergeSource.Adapter a : adapters) {
            if (a.config().loraDropout() != d) {
                return 0;
            }
        }
        return d;
    }

    /** The LoRA factors of {@code module} in every input that adapts it (input order). */
    private static List<Factors> factorsOf(MergePlan plan, String module) {
        List<Factors> fs = new ArrayList<>();
        for (int i = 0; i < plan.sources().size(); i++) {
            MergeSource s = plan.sources().get(i);
            MergeSource.Adapter a =
                    s instanceof MergeSource.Adapter x ? x : s instanceof MergeSource.LoraApplied la ? la.lora() : null;
            if (a == null || !a.modules().contains(module)) {
                continue;
            }
            float[] fa = a.store().readFloats(PeftAdapter.key(module, "A"));
            float[] fb = a.store().readFloats(PeftAdapter.key(module, "B"));
            requireFinite(a.dir(), PeftAdapter.key(module, "A"), fa);
            requireFinite(a.dir(), PeftAdapter.key(module, "B"), fb);
            fs.add(new Factors(i, fa, fb, a.config().rank(module), a.config().scaling(module)));
        }
        return fs;
    }

    private static void requireFinite(Path dir, String key, float[] x) {
        if (!Floats.allFinite(x, 0, x.length)) {
            for (int j = 0; j < x.length; j++) {
                if (!Float.isFinite(x[j])) {
                    throw PaftException.numeric("input " + dir + ": tensor '" + key + "' has " + x[j] + " at element "
                            + j + "; nothing was written");
                }
            }
        }
    }

    // ---- probes: the method on small vectors -------------------------------------------------

    static final int PROBE = 64;

    /**
     * Runs the method on one tensor's parameters with random deltas over two different random bases,
     * and with zero deltas: the merged delta must not change with the base (else the result holds a
     * multiple of the base weights, which no adapter expresses) and must be 0 for zero deltas (so
     * matrices no input adapts stay out of the adapter).
     */
    static void probeBaseIndependent(MergeMethod method, Job job, int inputs, long seed) {
        String name = job.spec().name();
        SplittableRandom r = new SplittableRandom(0x5eedL ^ name.hashCode());
        float[][] d = new float[inputs][PROBE];
        for (float[] x : d) {
            for (int j = 0; j < PROBE; j++) {
                x[j] = (float) (r.nextDouble() * 2 - 1);
            }
        }
        float[] b1 = new float[PROBE];
        float[] b2 = new float[PROBE];
        for (int j = 0; j < PROBE; j++) {
            b1[j] = (float) (r.nextDouble() * 4 - 2);
            b2[j] = (float) (r.nextDouble() * 4 - 2);
        }
        float[] r1 = mergedDelta(method, job, b1, d, seed);
        float[] r2 = mergedDelta(method, job, b2, d, seed);
        float[] r0 = mergedDelta(method, job, b1, new float[inputs][PROBE], seed);
        double scale = 0;
        for (int j = 0; j < PROBE; j++) {
            scale = Math.max(scale, Math.abs(r1[j]));
        }
        for (int j = 0; j < PROBE; j++) {
            double diff = Math.abs(r1[j] - r2[j]);
            if (!(diff <= 1e-4 * (1 + scale)) || !(Math.abs(r0[j]) <= 1e-5)) {
                throw PaftException.usage(
                        "--lora-out: " + method.name() + " at tensor '" + name + "' does not give the base plus a "
                                + "function of the adapters' deltas alone ("
                                + (Math.abs(r0[j]) > 1e-5
                                        ? "zero deltas give a nonzero change"
                                        : "its result moves with the base weights")
                                + hint(method, job)
                                + "), so the merge cannot be written as an adapter on the base; write the model with --out");
            }
        }
    }

    private static String hint(MergeMethod method, Job job) {
        if (method.name().equals("linear")) {
            double sum =
                    job.perInput().stream().mapToDouble(p -> p.number("weight")).sum();
            return ": linear with normalize: false keeps (sum of weights) x base = " + sum
                    + " x base; set normalize: true or weights summing to 1";
        }
        if (method.name().contains("slerp")) {
            return ": spherical interpolation scales the whole weights, base included";
        }
        return "";
    }

    /** The method's merged tensor minus the base, on probe data (fresh arrays every call). */
    private static float[] mergedDelta(MergeMethod method, Job job, float[] base, float[][] deltas, long seed) {
        float[][] in = new float[deltas.length][];
        for (int i = 0; i < deltas.length; i++) {
            in[i] = deltas[i].clone();
            if (!method.usesDeltas()) {
                for (int j = 0; j < in[i].length; j++) {
                    in[i][j] += base[j];
                }
            }
        }
        float[] merged = method.merge(
                new MergeMethod.MergeTensor(job.spec().name(), base.clone(), in, job.global(), job.perInput(), seed));
        float[] out = new float[base.length];
        for (int j = 0; j < base.length; j++) {
            out[j] = merged[j] - base[j];
        }
        return out;
    }

    /**
     * The coefficients {@code c_i} of a linear method for one tensor ({@code Delta = sum_i c_i d_i}):
     * the method run on unit vectors over a zero base, so weights, lambda and normalization are the
     * method's own.
     */
    static double[] linearCoefficients(MergeMethod method, Job job, int inputs, long seed) {
        float[][] e = new float[inputs][inputs];
        for (int i = 0; i < inputs; i++) {
            e[i][i] = 1;
        }
        float[] c = mergedDelta(method, job, new float[inputs], e, seed);
        double[] out = new double[inputs];
        for (int i = 0; i < inputs; i++) {
            out[i] = c[i];
        }
        return out;
    }

    // ---- factoring ---------------------------------------------------------------------------

    /** A factored matrix: the kept rank, factors, all singular values found, and the squared norms. */
    private record Piece(int rank, float[] a, float[] b, double[] s, double norm2, double tail2, boolean factored) {}

    /**
     * A linear method: {@code Delta = sum_i c_i s_i B_i A_i = [c_1 s_1 B_1 | ...] [A_1; ...]}, factored by
     * QR of the stacked factors ({@link TruncatedSvd#ofProduct}); exact at rank {@code sum r_i}.
     */
    private static Piece factored(List<Factors> fs, double[] c, int rows, int cols, Options opt) {
        List<Factors> used = fs.stream().filter(f -> c[f.input()] != 0).toList();
        int k = used.stream().mapToInt(Factors::r).sum();
        if (k == 0) {
            return null;
        }
        double[] bs = new double[rows * k];
        double[] as = new double[k * cols];
        int off = 0;
        for (Factors f : used) {
            double coef = c[f.input()] * f.scaling();
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < f.r(); j++) {
                    bs[i * k + off + j] = coef * f.b()[i * f.r() + j];
                }
            }
            for (int j = 0; j < f.r(); j++) {
                for (int x = 0; x < cols; x++) {
                    as[(off + j) * cols + x] = f.a()[j * cols + x];
                }
            }
            off += f.r();
        }
        TruncatedSvd.Svd svd;
        if (k <= rows && k <= cols) {
            svd = TruncatedSvd.ofProduct(bs, as, rows, k, cols);
        } else {
            svd = TruncatedSvd.jacobi(TruncatedSvd.matmul(bs, as, rows, k, cols), rows, cols); // tiny matrices
        }
        double norm2 = 0;
        for (double x : svd.s()) {
            norm2 += x * x; // ||Delta||_F^2 = sum of all its singular values squared (Q orthonormal)
        }
        int rank = chooseRank(svd.s(), norm2, k, opt);
        double tail2 = 0;
        for (int j = rank; j < svd.s().length; j++) {
            tail2 += svd.s()[j] * svd.s()[j];
        }
        return piece(svd, rank, norm2, tail2, true);
    }

    /**
     * Any other method: the merged tensor by the method's own code (as the model merge computes it),
     * {@code Delta = merged - base} formed densely, then a randomized truncated SVD; the sketch grows
     * until an error target is met.
     */
    private static Piece dense(
            MergePlan plan, MergeMethod method, Job job, List<Factors> fs, int rows, int cols, Options opt, long seed) {
        String name = job.spec().name();
        TensorStore ref = plan.ref();
        float[][] in = new float[plan.sources().size()][];
        float[] base;
        if (method.usesDeltas()) {
            // the merged delta does not depend on the base (the probes checked it): merge over a zero
            // base, so the base's weights are never read, and each task vector is the adapter's own
            // scaling * B @ A (for BASE+LORA the model merge's (W + scaling * B @ A) - W, up to rounding)
            base = new float[(int) ref.info(name).numel()];
            for (int i = 0; i < in.length; i++) {
                MergeSource s = plan.sources().get(i);
                in[i] = s instanceof MergeSource.LoraApplied la
                        ? la.lora().delta(name, base)
                        : s instanceof MergeSource.FullModel ? new float[base.length] : s.delta(name, base);
            }
        } else {
            base = ref.readFloats(name);
            for (int i = 0; i < in.length; i++) {
                in[i] = plan.sources().get(i).model(name, base);
            }
        }
        float[] merged;
        try {
            merged = method.merge(
                    new MergeMethod.MergeTensor(name, base.clone(), in, job.global(), job.perInput(), seed));
        } catch (NonFiniteInputException e) {
            throw PaftException.numeric(
                    "input " + plan.inputRefs().get(Math.max(0, e.input())).display() + ": tensor '" + name
                            + "' has a NaN or Inf in its task vector; nothing was written");
        }
        float[] delta = new float[base.length];
        double norm2 = 0;
        for (int j = 0; j < base.length; j++) {
            float d = merged[j] - base[j];
            if (!Float.isFinite(d)) {
                throw PaftException.numeric(
                        "merged tensor '" + name + "' has " + merged[j] + " at element " + j + "; nothing was written");
            }
            delta[j] = d;
            norm2 += (double) d * d;
        }
        if (norm2 == 0) {
            return null;
        }
        int inputRank = fs.stream().mapToInt(Factors::r).sum();
        int full = Math.min(rows, cols);
        int want = opt.rank() != null ? opt.rank() : inputRank;
        int sketch = Math.min(full, Math.min(want, full) + OVERSAMPLE);
        long sseed = 0x10a5eedL ^ ((long) name.hashCode() << 20);
        while (true) {
            TruncatedSvd.Svd svd = sketch >= full
                    ? TruncatedSvd.jacobi(toDouble(delta), rows, cols)
                    : TruncatedSvd.randomized(delta, rows, cols, sketch, POWER_ITERS, sseed);
            int cap = opt.rank() != null ? Math.min(opt.rank(), svd.k()) : svd.k();
            int rank;
            if (opt.maxError() != null) {
                rank = rankForError(svd.s(), norm2, cap, opt.maxError());
                boolean met = Math.sqrt(Math.max(0, tailOf(svd.s(), norm2, rank)) / norm2) <= opt.maxError();
                int limit = Math.min(full, (opt.rank() != null ? opt.rank() : MAX_SEARCH_RANK) + OVERSAMPLE);
                if (!met && sketch < limit) {
                    sketch = Math.min(limit, sketch * 2); // not met within the sketch: grow it
                    continue;
                }
                if (!met) {
                    opt.log()
                            .accept(String.format(
                                    "warning: tensor '%s': relative error %.3g at rank %d, above --lora-error %s "
                                            + "(the rank search stops at %d; raise --lora-rank to search further)",
                                    name,
                                    Math.sqrt(Math.max(0, tailOf(svd.s(), norm2, rank)) / norm2),
                                    rank,
                                    opt.maxError(),
                                    opt.rank() != null ? opt.rank() : MAX_SEARCH_RANK));
                }
            } else {
                rank = Math.min(want, svd.k());
            }
            rank = Math.max(1, Math.min(rank, svd.k()));
            double tail2 = Math.max(0, tailOf(svd.s(), norm2, rank));
            return piece(svd, rank, norm2, tail2, false);
        }
    }

    /** {@code ||M||^2 - sum_{j < r} s_j^2}: the squared error of the rank-r projection. */
    private static double tailOf(double[] s, double norm2, int r) {
        double kept = 0;
        for (int j = 0; j < r; j++) {
            kept += s[j] * s[j];
        }
        return norm2 - kept;
    }

    private static int rankForError(double[] s, double norm2, int cap, double maxError) {
        double allowed = maxError * maxError * norm2;
        double t = norm2;
        for (int r = 0; r < cap; r++) {
            if (t <= allowed) {
                return Math.max(1, r);
            }
            t -= s[r] * s[r];
        }
        return Math.max(1, cap);
    }

    /** The rank for the factored path: all singular values are known. */
    private static int chooseRank(double[] s, double norm2, int inputRank, Options opt) {
        int cap = opt.rank() != null ? Math.min(opt.rank(), s.length) : s.length;
        if (opt.maxError() != null) {
            double allowed = opt.maxError() * opt.maxError() * norm2;
            double t = 0;
            int r = s.length;
            // smallest r with sum_{j >= r} s_j^2 <= allowed, summed from the smallest (no cancellation)
            for (int j = s.length - 1; j >= 0; j--) {
                t += s[j] * s[j];
                if (t > allowed) {
                    break;
                }
                r = j;
            }
            return Math.max(1, Math.min(r, cap));
        }
        return Math.max(1, Math.min(opt.rank() != null ? opt.rank() : inputRank, s.length));
    }

    private static Piece piece(TruncatedSvd.Svd svd, int rank, double norm2, double tail2, boolean factored) {
        int m = svd.m();
        int n = svd.n();
        int k = svd.k();
        float[] b = new float[m * rank];
        float[] a = new float[rank * n];
        for (int j = 0; j < rank; j++) {
            double root = Math.sqrt(svd.s()[j]); // balanced: B = U sqrt(S), A = sqrt(S) V^T
            for (int i = 0; i < m; i++) {
                b[i * rank + j] = (float) (svd.u()[i * k + j] * root);
            }
            for (int x = 0; x < n; x++) {
                a[j * n + x] = (float) (svd.vt()[j * n + x] * root);
            }
        }
        return new Piece(rank, a, b, svd.s(), norm2, tail2, factored);
    }

    private static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    // ---- output ------------------------------------------------------------------------------

    private static int modeOf(Collection<Integer> ranks) {
        Map<Integer, Integer> count = new TreeMap<>();
        ranks.forEach(r -> count.merge(r, 1, Integer::sum));
        int best = -1;
        int bestCount = -1;
        for (var e : count.entrySet()) {
            if (e.getValue() > bestCount || (e.getValue() == bestCount && e.getKey() > best)) {
                best = e.getKey();
                bestCount = e.getValue();
            }
        }
        return best;
    }

    /**
     * The output config: {@code r} the most common rank, {@code lora_alpha = r} (scaling 1), and for
     * every module of another rank a {@code rank_pattern} and an equal {@code alpha_pattern} entry, keyed
     * by the module name without its first component ({@code layers.3.mlp.down_proj}), which PEFT's
     * older ({@code .*\.KEY$}) and newer ({@code (.*\.)?(KEY)$}) pattern rules both match.
     * {@code target_modules}: the modules' last names when the adapter covers every base module of
     * those names, else the full module names (PEFT's suffix rule matches them exactly).
     */
    static PeftAdapterConfig outputConfig(
            TensorStore base, Map<String, Integer> ranks, int r, String baseName, double dropout) {
        Map<String, Integer> rp = new LinkedHashMap<>();
        Map<String, Double> ap = new LinkedHashMap<>();
        ranks.forEach((m, k) -> {
            if (k != r) {
                String key = m.contains(".") ? m.substring(m.indexOf('.') + 1) : m;
                rp.put(key, k);
                ap.put(key, (double) k);
            }
        });
        Set<String> shortNames = new LinkedHashSet<>();
        for (String m : ranks.keySet()) {
            shortNames.add(m.substring(m.lastIndexOf('.') + 1));
        }
        boolean covers = true;
        for (String n : base.names()) {
            if (n.endsWith(".weight") && base.info(n).shape().length == 2) {
                String m = n.substring(0, n.length() - ".weight".length());
                if (PeftTargets.matches(shortNames, m) && !ranks.containsKey(m)) {
                    covers = false;
                    break;
                }
            }
        }
        List<String> targets = covers ? List.copyOf(shortNames) : List.copyOf(ranks.keySet());
        PeftAdapterConfig cfg = new PeftAdapterConfig(r, r, dropout, targets, false, baseName, rp, ap);
        for (String m : ranks.keySet()) { // the written patterns give every module its rank (checked, not assumed)
            if (cfg.rank(m) != ranks.get(m) || cfg.scaling(m) != 1.0) {
                throw new IllegalStateException(
                        "rank_pattern does not resolve module " + m + " to rank " + ranks.get(m));
            }
        }
        return cfg;
    }

    private static String rankRule(Options opt, MergeMethod method) {
        String cap = opt.rank() != null ? "rank " + opt.rank() : "the sum of the input ranks";
        if (opt.maxError() != null) {
            return "smallest rank with relative Frobenius error <= " + opt.maxError() + " (at most " + cap + ")";
        }
        return cap + (LINEAR.contains(method.name()) && opt.rank() == null ? " (exact)" : "");
    }

    private static ObjectNode report(
            MergeMethod method,
            Options opt,
            MergePlan plan,
            List<TensorReport> reports,
            int globalRank,
            double overall,
            TensorReport worst,
            DType dtype) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("merge_method", method.name());
        o.put(
                "path",
                LINEAR.contains(method.name())
                        ? "factored (QR of the stacked LoRA factors, SVD of the core)"
                        : "dense (the method's merged delta, randomized SVD with " + POWER_ITERS
                                + " power iterations, oversampling " + OVERSAMPLE + ")");
        o.put("rank_rule", rankRule(opt, method));
        o.put("r", globalRank);
        o.put("lora_alpha", globalRank);
        o.put("factor_dtype", dtype.torchName());
        o.put("overall_relative_error", overall);
        o.put("max_relative_error", worst.relativeError());
        o.put("max_error_tensor", worst.tensor());
        o.put(
                "error_definition",
                "||Delta - B A||_F / ||Delta||_F per tensor, Delta = merged - base; overall: "
                        + "sqrt(sum of squared errors / sum of squared norms); before rounding the factors to factor_dtype");
        ArrayNode in = o.putArray("inputs");
        plan.inputRefs().forEach(r -> in.add(r.display()));
        ArrayNode ts = o.putArray("tensors");
        for (TensorReport t : reports) {
            ObjectNode x = ts.addObject();
            x.put("tensor", t.tensor());
            x.putArray("shape").add(t.rows()).add(t.cols());
            x.put("rank", t.rank());
            x.put("input_rank", t.inputRank());
            x.put("path", t.factored() ? "factored" : "dense");
            x.put("norm", t.norm());
            x.put("relative_error", t.relativeError());
            x.put("sigma_max", t.sigmaMax());
            x.put("sigma_last_kept", t.sigmaLastKept());
            x.put("sigma_first_dropped", t.sigmaFirstDropped());
        }
        return o;
    }

    /** The terminal summary (two lines). */
    public static String summary(MergeSpec spec, Result r) {
        Map<Integer, Integer> byRank = new TreeMap<>();
        r.tensors().forEach(t -> byRank.merge(t.rank(), 1, Integer::sum));
        String ranks = byRank.size() == 1
                ? "rank " + byRank.keySet().iterator().next()
                : byRank.size() <= 4
                        ? "ranks "
                                + String.join(
                                        ", ",
                                        byRank.entrySet().stream()
                                                .map(e -> e.getKey() + " x" + e.getValue())
                                                .toList())
                        : "ranks " + ((TreeMap<Integer, Integer>) byRank).firstKey() + "-"
                                + ((TreeMap<Integer, Integer>) byRank).lastKey() + " (r = " + r.globalRank()
                                + ", others in rank_pattern)";
        String err = r.maxError() == 0
                ? "0 (exact: every singular value kept)"
                : String.format("overall %.3g, max %.3g (%s)", r.overallError(), r.maxError(), r.worstTensor());
        return String.format(
                "paft merge: %s of %d input(s) -> %s (PEFT adapter, %d matrices, %s, %.1f MB, %.1f s)%n"
                        + "paft merge: truncation error (relative Frobenius): %s; per tensor in %s",
                spec.method(),
                spec.models().size(),
                r.out(),
                r.tensors().size(),
                ranks,
                r.bytes() / 1e6,
                r.seconds(),
                err,
                r.out().resolve(REPORT_FILE));
    }
}
