package dev.paft.merge;

import dev.paft.errors.PaftException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Generalized task arithmetic: {@code base + lambda * mix(sparsify(w_i * d_i))}, one class
 * registered as task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs and breadcrumbs_ties
 * with different sparsification and consensus (mergekit's GeneralizedTaskArithmeticMerge).
 *
 * <p>With {@code W_i = w_i * sparsify(d_i)} per element: with consensus, the elected sign is
 * {@code sign(sum_i W_i)} ("sum") or {@code sign(sum_i sign(W_i))} ("count"), 0 counting as +;
 * {@code mask_i = sign(W_i) == elected} (a zero entry never agrees); {@code mixed = sum_i W_i mask_i},
 * {@code divisor = sum_i w_i mask_i} (0 -> 1). Without consensus {@code mixed = sum_i W_i},
 * {@code divisor = sum_i w_i} (|.| < 1e-8 -> 1). With normalize {@code mixed /= divisor}.
 */
public final class TaskArithmeticMerge implements MergeMethod {
    /** How task vectors are sparsified before mixing. */
    public enum Sparsification { NONE, MAGNITUDE, RANDOM, MAGNITUDE_OUTLIERS }

    private final String name;
    private final Sparsification sparsification;
    private final boolean consensus;
    private final boolean defaultNormalize;
    private final boolean defaultRescale;

    public TaskArithmeticMerge(String name, Sparsification sparsification, boolean consensus,
                               boolean defaultNormalize, boolean defaultRescale) {
        this.name = name;
        this.sparsification = sparsification;
        this.consensus = consensus;
        this.defaultNormalize = defaultNormalize;
        this.defaultRescale = defaultRescale;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Map<String, Object> parameters() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("lambda", 1.0);
        p.put("normalize", defaultNormalize);
        p.put("int8_mask", false); // accepted for mergekit configs; the mask is a boolean test here
        if (sparsification == Sparsification.RANDOM || sparsification == Sparsification.MAGNITUDE_OUTLIERS) {
            p.put("rescale", defaultRescale);
        }
        if (sparsification == Sparsification.RANDOM) {
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
        return p;
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
        if (inputs < 1) {
            throw PaftException.usage(name + " needs at least one input besides the base model");
        }
    }

    @Override
    public float[] merge(MergeTensor t) {
        float[][] d = t.inputs();
        int n = d.length;
        // 1. sparsify each task vector (trim / drop-and-rescale / breadcrumbs)
        for (int i = 0; i < n; i++) {
            Params p = t.perInput().get(i);
            switch (sparsification) {
                case MAGNITUDE -> Sparsify.magnitude(d[i], p.number("density"));
                case RANDOM -> Sparsify.bernoulli(d[i], p.number("density"), rescaleOf(t.global()),
                        Sparsify.seedFor(t.seed(), t.name(), i));
                case MAGNITUDE_OUTLIERS -> Sparsify.magnitudeOutliers(d[i], p.number("density"), p.number("gamma"),
                        rescaleOf(t.global()));
                case NONE -> { }
            }
        }
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) t.perInput().get(i).number("weight");
        }
        float lambda = (float) t.global().number("lambda");
        boolean normalize = t.global().bool("normalize");
        boolean count = consensus && "count".equals(t.global().string("consensus"));
        // 2.-4. elect sign, disjoint mix, normalize; written into the base array
        mix(t.base(), d, w, lambda, normalize, consensus, count);
        return t.base();
    }

    /**
     * The mixing step as a free function: {@code out[j] = base[j] + lambda * mixed[j] (/ divisor[j])}
     * computed in place in {@code base}.
     */
    public static void mix(float[] base, float[][] d, float[] w, float lambda, boolean normalize,
                           boolean consensus, boolean countConsensus) {
        int n = d.length;
        float plainDivisor = 0f;
        for (float x : w) {
            plainDivisor += x;
        }
        if (Math.abs(plainDivisor) < 1e-8f) {
            plainDivisor = 1f;
        }
        for (int j = 0; j < base.length; j++) {
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

    static Sparsify.Rescale rescaleOf(Params global) {
        Object r = global.get("rescale");
        if (r instanceof Boolean b) {
            return b ? Sparsify.Rescale.DENSITY : Sparsify.Rescale.NONE;
        }
        if ("l1".equals(r)) {
            return Sparsify.Rescale.L1;
        }
        if ("density".equals(r)) {
            return Sparsify.Rescale.DENSITY;
        }
        throw PaftException.usage(global.where() + ": rescale must be true (1/density), false, 'density' or 'l1' (got " + r + ")");
    }
}
