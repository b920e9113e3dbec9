package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.TensorStore;
import dev.paft.testutil.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tensor large enough for the two-thread paths of a streaming merge (inputs read two at a time,
 * sparsify and mix split over two threads): the result equals the element-by-element definition.
 */
class LargeTensorMergeTest {
    private static final String BIG = "model.layers.0.mlp.up_proj.weight";

    @TempDir
    Path tmp;

    private static Map<String, FloatTensor> weights(long seed, float noise, Map<String, FloatTensor> base) {
        Random r = new Random(seed);
        Map<String, FloatTensor> m = new LinkedHashMap<>();
        long[][] shapes = {{1100, 1024}, {4}};
        String[] names = {BIG, "model.norm.weight"};
        for (int t = 0; t < names.length; t++) {
            FloatTensor b = base == null ? null : base.get(names[t]);
            FloatTensor x = TinyModels.rand(r, shapes[t]);
            float[] v = x.data();
            for (int j = 0; j < v.length; j++) {
                // coarse values: many exact ties in the trim
                v[j] = b == null ? Math.round(v[j] * 64) / 64f : b.data()[j] + Math.round(v[j] * 16) / 1024f * noise;
            }
            m.put(names[t], x);
        }
        return m;
    }

    @Test
    void tiesOfThreeInputsOnALargeTensorMatchesTheDefinition() throws Exception {
        Map<String, FloatTensor> base = weights(1, 0, null);
        TinyModels.writeModel(tmp.resolve("base"), base, DType.F32);
        float[] w = {0.5f, 0.3f, 0.2f};
        List<Map<String, FloatTensor>> ms = new ArrayList<>();
        List<MergeSpec.Input> inputs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ms.add(weights(2 + i, 1, base));
            TinyModels.writeModel(tmp.resolve("m" + i), ms.get(i), DType.F32);
            inputs.add(new MergeSpec.Input(
                    tmp.resolve("m" + i).toString(), Map.of("weight", (double) w[i], "density", 0.5)));
        }
        MergeSpec spec = MergeSpec.builder("ties", tmp.resolve("base").toString())
                .inputs(inputs)
                .shardSize("5GB")
                .build();
        MergeRunner.run(spec, new MergeRunner.Options(tmp.resolve("out"), false));

        float[] want = base.get(BIG).data().clone();
        float[][] d = new float[3][];
        for (int i = 0; i < 3; i++) {
            d[i] = ms.get(i).get(BIG).data().clone();
            for (int j = 0; j < want.length; j++) {
                d[i][j] -= want[j];
            }
            Sparsify.magnitude(d[i], 0.5);
        }
        TaskArithmeticMerge.mixReference(want, d, w, 1f, true, true, false, 0, want.length);
        float[] got;
        try (TensorStore out = TensorStore.openModel(tmp.resolve("out"))) {
            got = out.readFloats(BIG);
        }
        assertEquals(want.length, got.length);
        int diff = 0;
        for (int j = 0; j < want.length; j++) {
            if (Float.floatToRawIntBits(want[j]) != Float.floatToRawIntBits(got[j])) {
                diff++;
            }
        }
        assertEquals(0, diff, "elements differing from the definition");
    }
}
