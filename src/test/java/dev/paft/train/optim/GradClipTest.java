package dev.paft.train.optim;

import static dev.paft.train.loss.Golden.assertClose;
import static dev.paft.train.loss.Golden.doubles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.train.loss.Golden;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradClipTest {
    private static final JsonNode GOLDEN = Golden.load("golden_optim.json").get("clip");

    @Test
    void matchesTorchClipGradNorm() {
        for (JsonNode c : GOLDEN) {
            try (NDManager m = NDManager.newBaseManager()) {
                List<NDArray> grads = new ArrayList<>();
                for (int i = 0; i < c.get("grads").size(); i++) {
                    grads.add(m.create(
                            AdamWTest.toFloats(doubles(c.get("grads").get(i))),
                            new Shape(Golden.longs(c.get("shapes").get(i)))));
                }
                double maxNorm = c.get("max_norm").asDouble();
                double norm = GradClip.clipGradNorm(grads, maxNorm);
                assertClose(c.get("norm").asDouble(), norm, 1e-6, "norm, max " + maxNorm);
                for (int i = 0; i < grads.size(); i++) {
                    assertClose(doubles(c.get("clipped").get(i)), grads.get(i), 1e-6, "grad " + i + ", max " + maxNorm);
                }
            }
        }
    }

    /** Clipping the arrays returned by getGradient() changes the parameters' gradients. */
    @Test
    void clipsTheParameterGradientsInPlace() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = m.create(new float[] {1f, 1f});
            w.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(w.mul(m.create(new float[] {3f, 4f})).sum()); // grad (3, 4), norm 5
            }
            double norm;
            try (NDArray g = w.getGradient()) {
                norm = GradClip.clipGradNorm(List.of(g), 1.0);
            }
            assertEquals(5.0, norm, 1e-6);
            assertArrayEquals(new float[] {0.6f, 0.8f}, w.getGradient().toFloatArray(), 1e-6f);
        }
    }
}
