package dev.paft.merge;

import dev.paft.errors.PaftException;
import dev.paft.merge.TaskArithmeticMerge.Sparsification;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The registry of merge methods under mergekit's names. */
public final class MergeMethods {
    private MergeMethods() {}

    private static final List<MergeMethod> STATIC = List.of(
            new LinearMerge(),
            new SlerpMerge(),
            new TaskArithmeticMerge("task_arithmetic", Sparsification.NONE),
            new TaskArithmeticMerge("ties", Sparsification.MAGNITUDE)
                    .withConsensus()
                    .withNormalizeByDefault(),
            new TaskArithmeticMerge("dare_ties", Sparsification.RANDOM)
                    .withConsensus()
                    .withRescaleByDefault(),
            new TaskArithmeticMerge("dare_linear", Sparsification.RANDOM).withRescaleByDefault(),
            new TaskArithmeticMerge("breadcrumbs", Sparsification.MAGNITUDE_OUTLIERS),
            new TaskArithmeticMerge("breadcrumbs_ties", Sparsification.MAGNITUDE_OUTLIERS).withConsensus(),
            new TaskArithmeticMerge("della", Sparsification.DELLA)
                    .withConsensus()
                    .withNormalizeByDefault()
                    .withRescaleByDefault(),
            new TaskArithmeticMerge("della_linear", Sparsification.DELLA).withRescaleByDefault(),
            new SceMerge(),
            new ModelStockMerge(),
            new NuSlerpMerge(),
            new MultiSlerpMerge(),
            new KarcherMerge(),
            new NearSwapMerge(),
            new ArceeFusionMerge(),
            new RamMerge(false),
            new RamMerge(true),
            new PassthroughMerge());

    public static final Map<String, MergeMethod> REGISTRY = byName();

    private static Map<String, MergeMethod> byName() {
        Map<String, MergeMethod> m = new LinkedHashMap<>();
        for (MergeMethod x : STATIC) {
            m.put(x.name(), x);
        }
        return Collections.unmodifiableMap(m);
    }

    /** The method of that name; exit 2 listing the known ones otherwise. */
    public static MergeMethod get(String name) {
        if (name == null) {
            throw PaftException.usage("no merge method given (one of " + String.join(", ", REGISTRY.keySet()) + ")");
        }
        MergeMethod m = REGISTRY.get(name);
        if (m == null) {
            throw PaftException.usage("merge method '" + name + "' is not supported (supported: "
                    + String.join(", ", REGISTRY.keySet()) + ")");
        }
        return m;
    }
}
