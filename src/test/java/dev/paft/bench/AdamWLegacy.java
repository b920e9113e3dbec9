package dev.paft.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import java.util.HashMap;
import java.util.Map;

/**
 * The AdamW update as it was before the scalar-tensor fix (a Java-number operand per op), kept for the
 * before/after micro-benchmark and a bit-identity check ({@code TrainBench micro}).
 */
final class AdamWLegacy {
    private final NDManager manager;
    private final Map<String, NDArray[]> state = new HashMap<>();
    private final Map<String, Long> steps = new HashMap<>();

    AdamWLegacy(NDManager manager) {
        this.manager = manager;
    }

    void step(Map<String, NDArray> params, double lr, double b1, double b2, double eps, double wd) {
        for (var e : params.entrySet()) {
            NDArray param = e.getValue();
            try (NDArray grad = param.getGradient()) {
                NDArray[] s = state.computeIfAbsent(e.getKey(), k ->
                        new NDArray[] {manager.zeros(param.getShape()), manager.zeros(param.getShape())});
                long t = steps.merge(e.getKey(), 1L, Long::sum);
                boolean gradMode = JniUtils.isGradMode();
                JniUtils.setGradMode(false);
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    param.muli(1 - lr * wd);
                    s[0].muli(b1).addi(grad.mul(1 - b1));
                    s[1].muli(b2).addi(grad.mul(grad).muli(1 - b2));
                    double stepSize = lr / (1 - Math.pow(b1, t));
                    double bc2Sqrt = Math.sqrt(1 - Math.pow(b2, t));
                    NDArray denom = s[1].sqrt().divi(bc2Sqrt).addi(eps);
                    param.subi(s[0].div(denom).muli(stepSize));
                } finally {
                    JniUtils.setGradMode(gradMode);
                }
            }
        }
    }
}
