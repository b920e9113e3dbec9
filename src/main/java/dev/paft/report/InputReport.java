package dev.paft.report;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The statistics of one input (one report column): its modules, pooled per layer, per module
 * type and in total.
 *
 * <p>A layer's fraction below a threshold pools the elements of all its modules:
 * {@code sum_m below_m / sum_m numel_m}, so the large MLP matrices weigh more than k and v. The
 * paper's Figure 2 number is {@link #meanLayerFraction}: the unweighted mean of those per-layer
 * fractions over layers.
 *
 * @param scaling the adapter's {@code alpha / r} (rsLoRA: {@code alpha / sqrt(r)}); 1 for model deltas
 * @param rank LoRA r, or 0 for model deltas
 * @param alpha lora_alpha, or 0 for model deltas
 * @param histogram counts of |delta| (unscaled) per {@link Histogram} bin, or null when not collected
 */
public record InputReport(
        String label,
        Path dir,
        Kind kind,
        double scaling,
        int rank,
        double alpha,
        List<ModuleStats> modules,
        long[] histogram) {

    /** Where the delta comes from. */
    public enum Kind {
        /** PEFT LoRA adapter: delta = B @ A. */
        ADAPTER,
        /** Full model against a base: delta = model - base. */
        MODEL_DELTA;

        public String label() {
            return this == ADAPTER ? "adapter" : "model-base";
        }
    }

    /** Per-layer statistics (modules of {@code layers.N} pooled), by layer index. */
    public List<GroupStats> layers() {
        Map<Integer, GroupStats.Pooled> byLayer = new TreeMap<>();
        for (ModuleStats m : modules) {
            if (m.layer() >= 0) {
                byLayer.merge(
                        m.layer(),
                        new GroupStats.Pooled(Integer.toString(m.layer()), m.unscaled(), m.scaled()),
                        (x, y) -> x.plus(y));
            }
        }
        return List.copyOf(byLayer.values());
    }

    /** Per-type statistics (q, k, v, o, gate, up, down first, then others as they appear), over all layers. */
    public List<GroupStats> types() {
        Map<String, GroupStats.Pooled> byType = new LinkedHashMap<>();
        for (String t : ModuleNames.TYPE_ORDER) {
            byType.put(t, null);
        }
        for (ModuleStats m : modules) {
            byType.merge(m.type(), new GroupStats.Pooled(m.type(), m.unscaled(), m.scaled()), (x, y) -> x.plus(y));
        }
        List<GroupStats> out = new ArrayList<>();
        byType.values().forEach(g -> {
            if (g != null) {
                out.add(g);
            }
        });
        return out;
    }

    /** All elements of all modules pooled. */
    public GroupStats total() {
        int n = modules.get(0).unscaled().below().length;
        GroupStats.Pooled all = new GroupStats.Pooled("all", DeltaStats.empty(n), DeltaStats.empty(n));
        for (ModuleStats m : modules) {
            all = all.plus(m);
        }
        return all;
    }

    /**
     * The paper's summary: the mean over layers of each layer's fraction of elements with
     * {@code |delta| < thresholds[t]}; NaN when no module lies in a layer.
     */
    public double meanLayerFraction(View view, int t) {
        List<GroupStats> layers = layers();
        double sum = 0;
        for (GroupStats g : layers) {
            sum += g.stats(view).fraction(t);
        }
        return layers.isEmpty() ? Double.NaN : sum / layers.size();
    }
}
