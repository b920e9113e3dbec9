package dev.paft.report;

import dev.paft.errors.PaftException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sparsity report of the PAFT paper's Figure 2 for several inputs side by side: per module,
 * the fraction of delta elements with {@code |delta| < t} for each threshold t, the L1 and L2
 * norms and {@code max |delta|}, both for the unscaled {@code B @ A} (the paper's definition) and
 * for the scaled {@code (alpha / r) B @ A} that is added to the weights.
 *
 * <p>Inputs are streamed one module at a time and each module's delta is reduced tile by tile
 * ({@link DeltaKernel}), so memory stays at one module's factors (adapters) or a few tiles
 * (model deltas, read from memory-mapped files).
 *
 * @param thresholds the thresholds t, in the order of every {@link DeltaStats#below()} array
 */
public record SparsityReport(List<Double> thresholds, List<InputReport> inputs) {
    private static final Logger LOG = LoggerFactory.getLogger(SparsityReport.class);

    public SparsityReport {
        thresholds = List.copyOf(thresholds);
        inputs = List.copyOf(inputs);
    }

    /**
     * Measures every input. Errors: usage (exit 2) for no input, a threshold that is not a
     * positive finite number or a repeated label; bad input (exit 3) for a missing directory or
     * malformed files, checked for all inputs before any delta is computed; numeric (exit 4) when a
     * delta holds NaN or Inf.
     */
    public static SparsityReport compute(List<ReportInput> inputs, ReportOptions options) {
        // 1. validate the request and open (and check) every input before any heavy work
        if (inputs.isEmpty()) {
            throw PaftException.usage("sparsity-report needs at least one adapter or model directory");
        }
        List<Double> ts = options.thresholds();
        if (ts.isEmpty()) {
            throw PaftException.usage("at least one threshold is needed");
        }
        for (double t : ts) {
            if (!(t > 0) || Double.isInfinite(t)) {
                throw PaftException.usage("threshold " + t + " must be a positive finite number");
            }
        }
        Set<String> labels = new HashSet<>();
        for (ReportInput in : inputs) {
            if (!labels.add(in.labelOrDefault())) {
                throw PaftException.usage(
                        "two inputs are labelled '" + in.labelOrDefault() + "'; give each a distinct label");
            }
        }
        List<DeltaSource> sources = new ArrayList<>();
        int threads =
                options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors();
        ExecutorService pool = threads == 1
                ? null
                : Executors.newFixedThreadPool(threads, r -> {
                    Thread t = new Thread(r, "sparsity-report");
                    t.setDaemon(true);
                    return t;
                });
        try {
            for (ReportInput in : inputs) {
                sources.add(DeltaSource.open(in));
            }
            // 2. measure each input module by module
            List<InputReport> reports = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                reports.add(measure(inputs.get(i), sources.get(i), ts, options.histogram(), pool));
            }
            return new SparsityReport(ts, reports);
        } finally {
            sources.forEach(DeltaSource::close);
            if (pool != null) {
                pool.shutdownNow();
            }
        }
    }

    private static InputReport measure(
            ReportInput in, DeltaSource src, List<Double> ts, boolean histogram, ExecutorService pool) {
        int n = ts.size();
        float scale = (float) src.scaling(); // PEFT multiplies the float32 B @ A by the float scaling
        boolean separateScaled = scale != 1f;
        // Thresholds become float cutoffs on the unscaled |delta|: first the unscaled ones, then those
        // selecting exactly the elements whose scaled value fl(|delta| * scale) is below t.
        float[] cutoffs = new float[separateScaled ? 2 * n : n];
        for (int t = 0; t < n; t++) {
            cutoffs[t] = DeltaKernel.cutoff(ts.get(t));
            if (separateScaled) {
                cutoffs[n + t] = DeltaKernel.scaledCutoff(ts.get(t), scale);
            }
        }
        String label = in.labelOrDefault();
        LOG.info(
                "{}: {} {} modules from {}",
                label,
                src.modules().size(),
                src.kind().label(),
                in.dir());
        long start = System.nanoTime();
        List<ModuleStats> modules = new ArrayList<>();
        long[] hist = histogram ? new long[Histogram.BINS] : null;
        for (DeltaSource.Module m : src.modules()) {
            DeltaKernel.Acc acc = src.stats(m, cutoffs, histogram, pool);
            if (!Double.isFinite(acc.l1) || !Float.isFinite(acc.maxAbs)) {
                throw PaftException.numeric(in.dir() + ": module '" + m.name() + "': delta holds NaN or Inf");
            }
            DeltaStats unscaled =
                    new DeltaStats(acc.numel, Arrays.copyOf(acc.below, n), acc.l1, acc.sumSquares, acc.maxAbs);
            DeltaStats scaled = unscaled;
            if (separateScaled) {
                float s = Math.abs(scale);
                scaled = new DeltaStats(
                        acc.numel,
                        Arrays.copyOfRange(acc.below, n, 2 * n),
                        s * acc.l1,
                        (double) s * s * acc.sumSquares,
                        acc.maxAbs * s);
            }
            modules.add(new ModuleStats(
                    m.name(),
                    ModuleNames.layer(m.name()),
                    ModuleNames.type(m.name()),
                    m.rows(),
                    m.cols(),
                    unscaled,
                    scaled));
            if (hist != null) {
                for (int i = 0; i < hist.length; i++) {
                    hist[i] += acc.hist[i];
                }
            }
            LOG.debug(
                    "{}: {} [{}, {}] below {}: {}",
                    label,
                    m.name(),
                    m.rows(),
                    m.cols(),
                    ts.get(0),
                    unscaled.fraction(0));
        }
        LOG.info("{}: done in {} ms", label, (System.nanoTime() - start) / 1_000_000);
        return new InputReport(label, in.dir(), src.kind(), src.scaling(), src.rank(), src.alpha(), modules, hist);
    }

    /** The input with this label, or null. */
    public InputReport input(String label) {
        return inputs.stream().filter(i -> i.label().equals(label)).findFirst().orElse(null);
    }
}
