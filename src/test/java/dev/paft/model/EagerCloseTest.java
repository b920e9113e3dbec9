package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.paft.engine.Scalars;
import dev.paft.lora.LoraLinear;
import dev.paft.lora.LoraModule;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The claim the per-layer scopes ({@link LlamaModel#hidden}) and the early freeing of the logits rest on:
 * closing the DJL handle of a consumed temporary under autograd leaves the gradients unchanged, bit for bit,
 * because the graph holds its own reference to every tensor it saved for backward.
 */
class EagerCloseTest {

    /**
     * Gradients of a graph that uses the ops of a decoder layer and the loss, each of which saves tensors for
     * backward (linear saves its input, sigmoid its output, mul both operands, softmax and log-softmax their
     * outputs, matmul both operands, gather its input), with or without closing every intermediate handle
     * right after use. After the closes the freed memory is reused (fresh arrays of the same sizes, filled
     * with garbage) before backward runs, so a tensor freed too early would show up as wrong gradients.
     */
    private static float[][] gradients(boolean close) {
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(7);
            NDArray x = m.randomNormal(new Shape(2, 16, 32)); // [B, T, hidden]
            NDArray w = m.randomNormal(new Shape(32, 32)).mul(0.2f); // frozen
            NDArray a = m.randomNormal(new Shape(4, 32)).mul(0.2f); // LoRA A
            NDArray b = m.randomNormal(new Shape(32, 4)).mul(0.2f); // LoRA B
            NDArray head = m.randomNormal(new Shape(50, 32)).mul(0.2f); // lm head (frozen)
            NDArray labels = m.randomInteger(0, 50, new Shape(2, 16, 1), DataType.INT64);
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            NDArray scale = Scalars.of(2.0, m.getDevice());
            boolean prev = JniUtils.isGradMode();
            JniUtils.setGradMode(true);
            try (NDManager step = m.newSubManager()) {
                // closing: the layer's ops run on a sub-manager closed right after (as LlamaModel.hidden does),
                // and the logits are closed after the loss; keeping: everything stays on the step scope
                NDManager layer = close ? step.newSubManager() : step;
                NDArray xs = x.duplicate();
                xs.attach(layer); // results land on xs's manager
                NDArray y = LoraLinear.forward(xs, w, null, new LoraModule("m", a, b), scale, 0f, true);
                NDArray q = y.reshape(2, 16, 4, 8).transpose(0, 2, 1, 3); // [B, H, T, D], a view
                NDArray qr = q.add(Rotary.rotateHalf(q));
                NDArray scores = qr.matMul(qr.transpose(0, 1, 3, 2)).softmax(-1);
                NDArray o = scores.matMul(qr).transpose(0, 2, 1, 3).reshape(2, 16, 32);
                NDArray h = RmsNorm.rmsNorm(Mlp.silu(o).mul(y), m.ones(new Shape(32)), Scalars.of(1e-5, m.getDevice()));
                h.attach(step); // only the layer's output moves up
                if (close) {
                    layer.close();
                }
                NDArray logits = LoraLinear.linear(h, head, null); // [B, T, V]
                NDArray loss = logits.logSoftmax(-1).gather(labels, -1).sum().neg();
                if (close) {
                    logits.close();
                    h.close();
                }
                // reuse whatever was freed: same-sized garbage, so a prematurely freed saved tensor is overwritten
                NDList junk = new NDList();
                for (Shape s : List.of(
                        new Shape(2, 16, 32), new Shape(2, 4, 16, 16), new Shape(2, 16, 50), new Shape(2, 4, 16, 8))) {
                    for (int i = 0; i < 4; i++) {
                        junk.add(m.full(s, 1e6f));
                    }
                }
                JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
                junk.close();
            } finally {
                JniUtils.setGradMode(prev);
            }
            return new float[][] {
                a.getGradient().toFloatArray(), b.getGradient().toFloatArray()
            };
        }
    }

    @Test
    void closingConsumedHandlesLeavesGradientsBitIdentical() {
        float[][] kept = gradients(false);
        float[][] closed = gradients(true);
        for (int i = 0; i < kept.length; i++) {
            boolean nonZero = false;
            for (float v : kept[i]) {
                assertTrue(Float.isFinite(v));
                nonZero |= v != 0;
            }
            assertTrue(nonZero, "the gradient reaches the LoRA factors");
            assertArrayEquals(kept[i], closed[i], 0f, "gradient " + i);
        }
    }
}
