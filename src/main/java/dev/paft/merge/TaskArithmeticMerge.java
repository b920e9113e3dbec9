package dev.paft.merge;

import dev.paft.errors.Futures;
import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Generalized task arithmetic: {@code base + lambda * mix(sparsify(w_i * d_i))}, one class
 * registered as task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della
 * and della_linear with different sparsification and consensus (mergekit's
 * GeneralizedTaskArithmeticMerge, mergekit/merge_methods/generalized_task_arithmetic.py; della's
 * magnitude-ranked drop: mergekit/sparsify.py {@code della_magprune}, see {@link Sparsify#della}).
 *
 * <p>With {@code W_i = w_i * sparsify(d_i)} per element: with consensus, the elected sign is
 * {@code sign(sum_i W_i)} ("sum") or {@code sign(sum_i sign(W_i))} ("count"), 0 counting as +;
 * {@code mask_i = sign(W_i) == elected} (a zero entry never agrees); {@code mixed = sum_i W_i mask_i},
 * {@code divisor = sum_i w_i mask_i} (0 -> 1). Without consensus {@code mixed = sum_i W_i},
 * {@code divisor = sum_i w_i} (|.| < 1e-8 -> 1). With normalize {@code mixed /= divisor}.
 */
public final class TaskArithmeticMerge implements MergeMethod {
    /** How task vectors are sparsified before mixing. */
    public enum Sparsification {
        NONE,
        MAGNITUDE,
        RANDOM,
        MAGNITUDE_OUTLIERS,
        DELLA
    }

    private final String name;
    private final Sparsification sparsification;
    private final boolean consensus;
    private final boolean defaultNormalize;
    private final boolean defaultRescale;

    /**
     * The family member {@code name}: no consensus, {@code normalize} and {@code rescale} false by default;
     * the {@code with...} methods name the differences, e.g.
     * {@code new TaskArithmeticMerge("ties", Sparsification.MAGNITUDE).withConsensus().withNormalizeByDefault()}.
     */
    public TaskArithmeticMerge(String name, Sparsification sparsification) {
        this(name, sparsification, false, false, false);
    }

    private TaskArithmeticMerge(
            String name,
            Sparsification sparsification,
            boolean consensus,
            boolean defaultNormalize,
            boolean defaultRescale) {
        this.name = name;
        this.sparsification = sparsification;
        this.consensus = consensus;
        this.defaultNormalize = defaultNormalize;
        this.defaultRescale = defaultRescale;
    }

    /** This method with TIES sign consensus ({@code consensus} parameter, "sum" by default). */
    public TaskArithmeticMerge withConsensus() {
        return new TaskArithmeticMerge(name, sparsification, true, defaultNormalize, defaultRescale);
    }

    /** This method with {@code normalize: true} by default. */
    public TaskArithmeticMerge withNormalizeByDefault() {
        return new TaskArithmeticMerge(name, sparsification, consensus, true, defaultRescale);
    }

    /** This method with {@code rescale: true} by default (DARE's 1/density). */
    public TaskArithmeticMerge withRescaleByDefault() {
        return new TaskArithmeticMerge(name, sparsification, consensus, defaultNormalize, true);
    }

    @Override
    public String name() {
        return name;
    }

    /**
     * mergekit (mergekit/merge_methods/generalized_task_arithmetic.py) declares {@code int8_mask},
     * {@code normalize}, {@code rescale} and {@code lambda} for every method of this family, and
     * {@code weight} and {@code density} per input ({@code gamma} for breadcrumbs). paft adds
     * {@code seed} (DARE masks) and {@code consensus} ("sum" or "count"). task_arithmetic sparsifies
     * nothing, so its {@code density} and {@code rescale} are accepted without effect
     * ({@link #inertParameters()}).
     */
    @Override
    public Map<String, Object> parameters() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("lambda", 1.0);
        p.put("normalize", defaultNormalize);
        p.put("int8_mask", false); // accepted for mergekit configs; the mask is a boolean test here
        if (sparsification != Sparsification.NONE) {
            p.put("rescale", defaultRescale);
        }
        if (sparsification == Sparsification.RANDOM || sparsification == Sparsification.DELLA) {
            p.put("seed", 42.0);
        }
        if (consensus) {
            p.put("consensus", "sum");
        }
        return p;
    }

    @Override
    public Map<String, Object> tensorParameters() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("weight", null);
        if (sparsification != Sparsification.NONE) {
            p.put("density", 1.0);
        }
        if (sparsification == Sparsification.MAGNITUDE_OUTLIERS) {
            p.put("gamma", 0.01);
        }
        if (sparsification == Sparsification.DELLA) {
            p.put("epsilon", 0.15); // mergekit's default
        }
        return p;
    }

    @Override
    public Set<String> inertParameters() {
        return sparsification == Sparsification.NONE ? Set.of("density", "rescale") : Set.of();
    }

    @Override
    public void validate(Params global, List<Params> perInput) {
        ParamChecks.finite(global, "lambda");
        global.bool("normalize");
        global.bool("int8_mask");
        if (sparsification != Sparsification.NONE) {
            checkRescale(global);
        }
        if (sparsification == Sparsification.RANDOM || sparsification == Sparsification.DELLA) {
            ParamChecks.seed(global);
        }
        if (consensus) {
            ParamChecks.consensus(global);
        }
        for (Params p : perInput) {
            ParamChecks.finite(p, "weight");
            if (sparsification != Sparsification.NONE) {
                ParamChecks.density(p);
            }
            if (sparsification == Sparsification.MAGNITUDE_OUTLIERS) {
                ParamChecks.gamma(p);
            }
            if (sparsification == Sparsification.DELLA) {
                // mergekit/sparsify.py della_magprune raises unless density +- epsilon is in (0, 1)
                // (only when it prunes: density < 1)
                double dens = p.number("density");
                double eps = ParamChecks.finite(p, "epsilon");
                if (dens < 1 && !(dens - eps > 0 && dens + eps < 1)) {
                    throw PaftException.usage(p.where() + ": epsilon " + eps + " with density " + dens
                            + ": density - epsilon and density + epsilon must lie in (0, 1) (keep probabilities)");
                }
            }
        }
    }

    @Override
    public boolean rescaleTrueIsDensity() {
        return sparsification == Sparsification.RANDOM;
    }

    @Override
    public boolean usesDeltas() {
        return true;
    }

    @Override
    public boolean needsBase() {
        return true;
    }

    @Override
    public void validateInputs(int inputs) {
        ParamChecks.atLeastOneBesideBase(name, inputs);
    }

    @Override
    public float[] merge(MergeTensor t) {
        float[][] d = t.inputs();
        int n = d.length;
        // 1. sparsify each task vector (trim / drop-and-rescale / breadcrumbs); inputs are
        // independent, so large tensors use a second core (the results do not depend on it)
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            final int ii = i;
            Runnable r = () -> {
                try {
                    sparsify(t, ii);
                } catch (NonFiniteInputException e) {
                    throw e.forInput(ii);
                }
            };
            if (sparsification != Sparsification.NONE && i < n - 1 && d[i].length >= PARALLEL_MIN) {
                pending.add(CompletableFuture.runAsync(r));
            } else {
                r.run();
            }
        }
        pending.forEach(Futures::get);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) t.perInput().get(i).number("weight");
        }
        float lambda = (float) t.global().number("lambda");
        boolean normalize = t.global().bool("normalize");
        boolean count = consensus && "count".equals(t.global().string("consensus"));
        // 2.-4. elect sign, disjoint mix, normalize; written into the base array (halves in parallel)
        float[] base = t.base();
        if (base.length >= PARALLEL_MIN) {
            int mid = base.length / 2 / BLOCK * BLOCK;
            var upper = CompletableFuture.runAsync(
                    () -> mix(base, d, w, lambda, normalize, consensus, count, mid, base.length));
            mix(base, d, w, lambda, normalize, consensus, count, 0, mid);
            Futures.get(upper);
        } else {
            mix(base, d, w, lambda, normalize, consensus, count);
        }
        return base;
    }

    /** Tensors of at least this many elements are split over two threads. */
    static final int PARALLEL_MIN = 1 << 20;

    private void sparsify(MergeTensor t, int i) {
        float[] d = t.inputs()[i];
        Params p = t.perInput().get(i);
        switch (sparsification) {
            case MAGNITUDE -> Sparsify.magnitude(d, p.number("density"), rescaleOf(t.global()));
            case RANDOM ->
                Sparsify.bernoulli(
                        d, p.number("density"), rescaleOf(t.global()), Sparsify.seedFor(t.seed(), t.name(), i));
            case MAGNITUDE_OUTLIERS ->
                Sparsify.magnitudeOutliers(d, p.number("density"), p.number("gamma"), rescaleOf(t.global()));
            case DELLA ->
                Sparsify.della(
                        d,
                        t.shape(),
                        p.number("density"),
                        p.number("epsilon"),
                        rescaleOf(t.global()),
                        Sparsify.seedFor(t.seed(), t.name(), i));
            case NONE -> {}
        }
    }

    /**
     * What {@code rescale} means for this method. {@code true}: mergekit's L1-norm preservation
     * ({@code ||d||_1 / ||d * mask||_1}, mergekit/sparsify.py {@code rescaled_masked_tensor}) for
     * ties and breadcrumbs; for dare_ties and dare_linear paft keeps the DARE paper's
     * {@code 1/density} (a documented difference; {@code rescale: l1} gives mergekit's).
     * {@code "l1"} and {@code "density"} name a rule explicitly ({@code density} on della: each kept
     * entry times {@code 1/p} of its own keep probability, the DELLA paper's rule); {@code false}: none.
     * della and della_linear follow mergekit: {@code true} is L1.
     */
    Sparsify.Rescale rescaleOf(Params global) {
        Object r = global.get("rescale");
        if (r instanceof Boolean b) {
            return !b
                    ? Sparsify.Rescale.NONE
                    : sparsification == Sparsification.RANDOM ? Sparsify.Rescale.DENSITY : Sparsify.Rescale.L1;
        }
        return checkRescale(global);
    }

    /** Checks a {@code rescale} value: true, false, "l1" or "density"; the explicit rule, or null for a boolean. */
    static Sparsify.Rescale checkRescale(Params global) {
        Object r = global.get("rescale");
        if (r instanceof Boolean) {
            return null;
        }
        if ("l1".equals(r)) {
            return Sparsify.Rescale.L1;
        }
        if ("density".equals(r)) {
            return Sparsify.Rescale.DENSITY;
        }
        throw PaftException.usage(global.where()
                + ": rescale must be true, false, 'l1' (mergekit's L1-norm preservation) or 'density' (1/density) (got "
                + r + ")");
    }

    /** Elements per block of the blocked mixing loops (the scratch rows stay in L1/L2). */
    static final int BLOCK = 2048;

    /**
     * The mixing step as a free function: {@code out[j] = base[j] + lambda * mixed[j] (/ divisor[j])}
     * computed in place in {@code base}.
     *
     * <p>Computed in blocks, one input at a time (loops the JIT vectorizes), with exactly the
     * float operations, in the same order, of {@link #mixReference}: results are bit-identical.
     * Count consensus, and any block whose fast result is not finite (a NaN or infinite input, which
     * the reference treats specially), go through the reference loop.
     */
    public static void mix(
            float[] base,
            float[][] d,
            float[] w,
            float lambda,
            boolean normalize,
            boolean consensus,
            boolean countConsensus) {
        mix(base, d, w, lambda, normalize, consensus, countConsensus, 0, base.length);
    }

    /**
     * The blocked fast path. Each block of the inputs and of the base is first copied into
     * block-sized scratch arrays, so that every loop below reads and writes its arrays at the same
     * index {@code k}: C2 (JDK 17) does not vectorize a loop over two float arrays at different
     * offsets ({@code acc[k] += w * d[lo + k]}), as the arrays might be one array; with the copies
     * the mix runs about 20x faster (the copies are intrinsic memcpy).
     */
    static void mix(
            float[] base,
            float[][] d,
            float[] w,
            float lambda,
            boolean normalize,
            boolean consensus,
            boolean countConsensus,
            int from,
            int to) {
        if (consensus && countConsensus) {
            for (int i = 0; i < d.length; i++) {
                requireFinite(d, i, from, to); // the reference drops a NaN entry (it never agrees)
            }
            mixReference(base, d, w, lambda, normalize, true, true, from, to);
            return;
        }
        float plainDivisor = plainDivisor(w);
        float[] mixed = new float[BLOCK];
        float[] divisor = consensus ? new float[BLOCK] : null;
        float[] vote = consensus ? new float[BLOCK] : null;
        float[] out = new float[BLOCK];
        float[][] blk = new float[d.length][BLOCK];
        for (int lo = from; lo < to; lo += BLOCK) {
            int m = Math.min(BLOCK, to - lo);
            for (int i = 0; i < d.length; i++) {
                System.arraycopy(d[i], lo, blk[i], 0, m);
            }
            System.arraycopy(base, lo, out, 0, m);
            Arrays.fill(mixed, 0, m, 0f);
            if (consensus) {
                // elect: sign of the summed weighted deltas; 0 counts as +
                Arrays.fill(vote, 0, m, 0f);
                Arrays.fill(divisor, 0, m, 0f);
                for (int i = 0; i < d.length; i++) {
                    addScaled(vote, blk[i], m, w[i]);
                }
                // elected = vote >= 0 ? 1 : -1, as arithmetic (exact for every non-NaN vote)
                for (int k = 0; k < m; k++) {
                    vote[k] = 1f - 2f * Math.min(Math.max(-vote[k], 0f) * 0x1p126f * 0x1p126f, 1f);
                }
                for (int i = 0; i < d.length; i++) {
                    addAgreeing(mixed, divisor, vote, blk[i], m, w[i]);
                }
                // divisor == 0 -> 1, branch-free and vectorizable: min(|x| 2^252, 1) is 0 for +-0 and 1
                // for any other non-NaN float (the smallest subnormal times 2^252 is 2^103), and x + 0 == x
                // for x != 0
                for (int k = 0; k < m; k++) {
                    float x = divisor[k];
                    divisor[k] = x + (1f - Math.min(Math.abs(x) * 0x1p126f * 0x1p126f, 1f));
                }
            } else {
                for (int i = 0; i < d.length; i++) {
                    addScaled(mixed, blk[i], m, w[i]);
                }
            }
            if (normalize) {
                if (consensus) {
                    for (int k = 0; k < m; k++) {
                        mixed[k] /= divisor[k];
                    }
                } else {
                    for (int k = 0; k < m; k++) {
                        mixed[k] /= plainDivisor;
                    }
                }
            }
            if (lambda != 1f) {
                for (int k = 0; k < m; k++) {
                    mixed[k] *= lambda;
                }
            }
            for (int k = 0; k < m; k++) {
                out[k] += mixed[k];
            }
            // without consensus the fast path performs the reference's float operations in its order,
            // so its result is the reference's whatever the inputs (NaN and Inf included): no check
            if (!consensus || Floats.allFinite(out, 0, m)) {
                System.arraycopy(out, 0, base, lo, m);
            } else {
                // a NaN / infinite input would be dropped by the consensus (it never agrees with the
                // sign): exit 4 naming it instead; finite inputs whose result overflows go through
                // the reference, and the runner's output check reports them
                for (int i = 0; i < d.length; i++) {
                    requireFinite(d, i, lo, lo + m);
                }
                mixReference(base, d, w, lambda, normalize, consensus, false, lo, lo + m);
            }
        }
    }

    private static void requireFinite(float[][] d, int i, int from, int to) {
        if (!Floats.allFinite(d[i], from, to)) {
            for (int j = from; j < to; j++) {
                if (!Float.isFinite(d[i][j])) {
                    throw new NonFiniteInputException(i, j, d[i][j]);
                }
            }
        }
    }

    /** {@code acc[k] += w * d[k]}. */
    private static void addScaled(float[] acc, float[] d, int m, float w) {
        for (int k = 0; k < m; k++) {
            acc[k] += w * d[k];
        }
    }

    /**
     * Disjoint merge of one input: where {@code sign(w * d) == elected} (zeros never agree),
     * {@code mixed += w * d} and {@code divisor += w}; elsewhere both get {@code +-0} (no change, as
     * neither sum can be -0). {@code f = max(w d e, 0)} is {@code |w d|} when agreeing, else 0;
     * {@code f e = w d} exactly, and {@code min(f 2^252, 1)} is the 0/1 indicator.
     */
    private static void addAgreeing(float[] mixed, float[] divisor, float[] elected, float[] d, int m, float w) {
        for (int k = 0; k < m; k++) {
            float e = elected[k];
            float f = Math.max(w * d[k] * e, 0f);
            mixed[k] += f * e;
            divisor[k] += Math.min(f * 0x1p126f * 0x1p126f, 1f) * w;
        }
    }

    static float plainDivisor(float[] w) {
        float plainDivisor = 0f;
        for (float x : w) {
            plainDivisor += x;
        }
        if (Math.abs(plainDivisor) < 1e-8f) {
            plainDivisor = 1f;
        }
        return plainDivisor;
    }

    /** The mixing step element by element (the definition; {@link #mix} must match it bit for bit). */
    static void mixReference(
            float[] base,
            float[][] d,
            float[] w,
            float lambda,
            boolean normalize,
            boolean consensus,
            boolean countConsensus,
            int from,
            int to) {
        int n = d.length;
        float plainDivisor = plainDivisor(w);
        for (int j = from; j < to; j++) {
            float mixed = 0f;
            float divisor;
            if (consensus) {
                // elect: sign of the summed weighted deltas (or of the summed signs); 0 counts as +
                float vote = 0f;
                for (int i = 0; i < n; i++) {
                    float wd = w[i] * d[i][j];
                    vote += countConsensus ? Math.signum(wd) : wd;
                }
                float elected = vote >= 0f ? 1f : -1f;
                // disjoint merge: only entries whose sign agrees (zeros never agree)
                divisor = 0f;
                for (int i = 0; i < n; i++) {
                    float wd = w[i] * d[i][j];
                    if (Math.signum(wd) == elected) {
                        mixed += wd;
                        divisor += w[i];
                    }
                }
                if (divisor == 0f) {
                    divisor = 1f;
                }
            } else {
                for (int i = 0; i < n; i++) {
                    mixed += w[i] * d[i][j];
                }
                divisor = plainDivisor;
            }
            if (normalize) {
                mixed /= divisor;
            }
            if (lambda != 1f) {
                mixed *= lambda;
            }
            base[j] += mixed;
        }
    }
}
