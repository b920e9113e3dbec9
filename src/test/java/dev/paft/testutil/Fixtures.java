package dev.paft.testutil;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.engine.Engines;
import dev.paft.io.FloatTensor;
import dev.paft.io.TensorStore;
import dev.paft.lora.LoraAdapter;
import dev.paft.model.LabelScorer;
import dev.paft.model.LlamaModel;
import dev.paft.model.TrainingForward;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** The tiny HF model dirs and golden tensors written by scripts/golden/make_model_golden.py, and float comparisons. */
public final class Fixtures {
    public static final Path ROOT = Path.of("src/test/resources/model");

    private Fixtures() {}

    public static Device cpu() {
        return Engines.start("cpu", 0);
    }

    public static Path dir(String name) {
        return ROOT.resolve(name);
    }

    /** All tensors of {@code <fixture>/golden.safetensors} as floats (int64 inputs widened exactly). */
    public static Map<String, FloatTensor> golden(String name) {
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        try (TensorStore s = TensorStore.open(dir(name), "golden")) {
            for (String n : s.names()) {
                out.put(n, s.read(n));
            }
        }
        return out;
    }

    /** Mean token cross-entropy of a batch and each position's label log-prob (aligned: [t] scores token t+1). */
    public record Ce(double loss, float[] tokens, double[] rowSums, int[] rowCounts) {}

    /**
     * The trainers' path for the mean token cross-entropy of {@code labels} (aligned with the input ids): the
     * decoder stack ({@link LlamaModel#trainingForward}, checkpointed or not), the chunked label scorer, and,
     * under grad mode with {@code training}, the backward into the adapter's factors.
     */
    public static Ce ce(
            LlamaModel model,
            NDManager scope,
            NDArray ids,
            NDArray mask,
            long[] labels,
            LoraAdapter adapter,
            boolean training,
            boolean checkpoint,
            int chunk,
            long dropoutSeed) {
        int rows = Math.toIntExact(ids.getShape().get(0));
        int cols = Math.toIntExact(ids.getShape().get(1));
        TrainingForward fwd = model.trainingForward(scope, ids, mask, adapter, training, dropoutSeed, checkpoint);
        LabelScorer.Scored s = model.scorer(chunk).score(scope, fwd.hidden(), LabelScorer.align(labels, rows, cols));
        long n = 0;
        double sum = 0;
        for (int r = 0; r < rows; r++) {
            n += s.counts(0)[r];
            sum += s.sums(0)[r];
        }
        if (fwd.hasBackward()) {
            float[] w = new float[rows];
            Arrays.fill(w, (float) (-1.0 / Math.max(1, n))); // d(-sum / N) / d sum_row
            fwd.backward(s.gradient(new float[][] {w}));
        }
        return new Ce(-sum / Math.max(1, n), s.tokens(0), s.sums(0), s.counts(0));
    }

    public static NDArray longs(NDManager m, FloatTensor t) {
        long[] v = new long[t.data().length];
        for (int i = 0; i < v.length; i++) {
            v[i] = (long) t.data()[i];
        }
        return m.create(v, new Shape(t.shape()));
    }

    public static NDArray floats(NDManager m, FloatTensor t) {
        return m.create(t.data(), new Shape(t.shape()));
    }

    /** max |a - b| / max(|b|) over all elements. */
    public static double relErr(float[] a, float[] b) {
        double maxDiff = 0;
        double maxRef = 1e-30;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs(b[i]));
        }
        return maxDiff / maxRef;
    }

    /** max over elements of |a - b| / max(1, |b|): per-element relative error (absolute near 0). */
    public static double elementRelErr(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1.0, Math.abs(b[i])));
        }
        return m;
    }

    /** Elements of a [B, T, ...] tensor at positions where mask [B, T] is 1, concatenated. */
    public static float[] realPositions(float[] x, float[] mask, int inner) {
        int n = 0;
        for (float v : mask) {
            n += v != 0 ? 1 : 0;
        }
        float[] out = new float[n * inner];
        int k = 0;
        for (int i = 0; i < mask.length; i++) {
            if (mask[i] != 0) {
                System.arraycopy(x, i * inner, out, k, inner);
                k += inner;
            }
        }
        return out;
    }
}
