package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The methods of issue 16 against mergekit's numbers: each YAML under
 * src/test/resources/merge/methods/configs runs through {@code paft merge} and must give what
 * scripts/golden/make_merge_methods_golden.py computes for it (written from mergekit's sources, in
 * float32 torch; it shares no code with paft).
 */
class MergeMethodsFidelityTest {
    static final Path ROOT = Path.of("src/test/resources/merge/methods");

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(
            strings = {
                "sce_topk",
                "sce_default",
                "model_stock",
                "model_stock_filter_wise",
                "nuslerp_base",
                "nuslerp_rows",
                "nuslerp_columns",
                "multislerp_base",
                "multislerp_models",
                "karcher",
                "karcher_base",
                "nearswap",
                "arcee_fusion",
                "ram",
                "ramplus_tl",
                "passthrough_scale"
            })
    void givesMergekitsNumbersInFloat32(String name) {
        Path out = tmp.resolve(name);
        List<String> log = new ArrayList<>();
        MergeRunner.run(
                MergeSpec.fromMergekit(ROOT.resolve("configs").resolve(name + ".yml")),
                new MergeRunner.Options(out, false, null, 0, log::add));
        Map<String, float[]> want =
                MergeFidelityTest.read(ROOT.resolve("expected").resolve(name));
        Map<String, float[]> got = MergeFidelityTest.read(out);
        double worst = MergeFidelityTest.maxRelDiff(want, got);
        System.out.printf("fidelity %s: max relative difference to mergekit %.2e%n", name, worst);
        // the merge changed something: no case is the identity of an input
        Map<String, float[]> base = MergeFidelityTest.read(ROOT.resolve("models/base"));
        boolean differs = false;
        for (var e : got.entrySet()) {
            differs |= !Arrays.equals(e.getValue(), base.get(e.getKey()));
        }
        assertTrue(differs, name + " returned the base");
        assertTrue(log.stream().noneMatch(l -> l.startsWith("warning:")), String.valueOf(log));
        assertEquals(want.size(), got.size());
    }
}
