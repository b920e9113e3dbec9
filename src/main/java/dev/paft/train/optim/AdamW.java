package dev.paft.train.optim;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.paft.engine.GradMode;
import dev.paft.errors.PaftException;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW with decoupled weight decay, step for step as {@code torch.optim.AdamW}
 * (single-tensor path, amsgrad off). For each parameter p with gradient g at its step t:
 * <pre>
 *   p   &lt;- p * (1 - lr * wd)                       decoupled weight decay
 *   m   &lt;- beta1 * m + (1 - beta1) * g
 *   v   &lt;- beta2 * v + (1 - beta2) * g * g
 *   p   &lt;- p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * </pre>
 * State per parameter name: step t, {@code exp_avg} m and {@code exp_avg_sq} v (float32, on the
 * parameter's device, owned by this optimizer's manager). {@link #exportState} /
 * {@link #importState} round-trip it exactly, so a resumed run continues bit for bit.
 *
 * <p>Updates are in place on the parameter arrays, inside a no-grad region
 * ({@code GradMode.off()}, restored afterwards): PyTorch forbids in-place ops on
 * leaves that require grad otherwise, and the parameter keeps {@code requiresGrad} so later
 * forward passes still produce its gradient. Java number operands are safe here because no
 * autograd graph is recorded (docs/ENGINE-NOTES.md: trap 1 concerns graphs only); the learning rate changes
 * every step, so caching it as a tensor would only grow a cache. Temporaries live in an
 * {@link NDScope} closed at the end of each update.
 */
public final class AdamW implements AutoCloseable {
    /** Hyper-parameters; defaults as HF's Trainer (betas 0.9/0.999, eps 1e-8, weight decay 0). */
    public record Config(double beta1, double beta2, double eps, double weightDecay) {
        public Config {
            if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0 && weightDecay >= 0)) {
                throw PaftException.usage("AdamW needs 0 <= beta1, beta2 < 1, eps >= 0, weight_decay >= 0; got " + beta1
                        + ", " + beta2 + ", " + eps + ", " + weightDecay);
            }
        }

        public static Config defaults() {
            return new Config(0.9, 0.999, 1e-8, 0.0);
        }
    }

    /** Exported state of one parameter: step count, shape, m and v as float32 values. */
    public record ParamState(long step, long[] shape, float[] expAvg, float[] expAvgSq) {}

    private static final class Slot {
        long step;
        final NDArray expAvg;
        final NDArray expAvgSq;

        Slot(long step, NDArray expAvg, NDArray expAvgSq) {
            this.step = step;
            this.expAvg = expAvg;
            this.expAvgSq = expAvgSq;
        }
    }

    private static final int MAGIC = 0x50414457; // "PADW"

    private final Config config;
    private final NDManager manager;
    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private final Map<Float, NDArray> constants = new HashMap<>();
    private NDArray[] stepScalars;
    private long cachedStep = -1;
    private double cachedLr = Double.NaN;

    /** State arrays go on a sub-manager of {@code parent}, closed by {@link #close}. */
    public AdamW(NDManager parent, Config config) {
        this.config = config;
        this.manager = parent.newSubManager();
        for (double v :
                new double[] {config.beta1(), 1 - config.beta1(), config.beta2(), 1 - config.beta2(), config.eps()}) {
            constants.computeIfAbsent((float) v, manager::create);
        }
    }

    public Config config() {
        return config;
    }

    /**
     * One update of every named parameter that has a gradient, at learning rate {@code lr}.
     * Parameters without a gradient are skipped (their step does not advance), as in PyTorch.
     */
    public void step(Map<String, NDArray> params, double lr) {
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            NDArray p = e.getValue();
            if (!p.hasGradient()) {
                continue;
            }
            try (NDArray g = p.getGradient()) {
                update(e.getKey(), p, g, lr);
            }
        }
    }

    /** One in-place update of {@code param} with gradient {@code grad} (float32, same shape). */
    public void update(String name, NDArray param, NDArray grad, double lr) {
        if (param.getDataType() != DataType.FLOAT32 || grad.getDataType() != DataType.FLOAT32) {
            throw PaftException.usage("AdamW updates float32 parameters only; " + name + " is " + param.getDataType()
                    + " with a " + grad.getDataType() + " gradient");
        }
        Slot s = slot(name, param);
        double b1 = config.beta1();
        double b2 = config.beta2();
        try (GradMode off = GradMode.off();
                NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            s.step++;
            // Scalars are float32 0-d tensors holding (float) v, exactly what a Java-number operand becomes
            // (bit-identical results), made once instead of one direct-buffer allocation per op.
            NDArray[] k = perStep(s.step, lr); // 1 - lr*wd, step size, sqrt(bc2)
            param.muli(k[0]); // p *= 1 - lr*wd
            s.expAvg.muli(scalar(b1)).addi(grad.mul(scalar(1 - b1))); // m = b1 m + (1-b1) g
            s.expAvgSq.muli(scalar(b2)).addi(grad.mul(grad).muli(scalar(1 - b2))); // v = b2 v + (1-b2) g^2
            NDArray denom = s.expAvgSq.sqrt().divi(k[2]).addi(scalar(config.eps())); // sqrt(v_hat) + eps
            param.subi(s.expAvg.div(denom).muli(k[1])); // p -= step_size * m / denom
        }
    }

    /** A cached constant (beta1, 1 - beta1, beta2, 1 - beta2, eps) as a float32 0-d tensor. */
    private NDArray scalar(double v) {
        return constants.get((float) v);
    }

    /**
     * The per-step scalars {@code 1 - lr*wd}, {@code lr / (1 - beta1^t)} and {@code sqrt(1 - beta2^t)} as
     * float32 0-d tensors, made once per (t, lr) and shared by every parameter at that step.
     */
    private NDArray[] perStep(long t, double lr) {
        if (t != cachedStep || lr != cachedLr || stepScalars == null) {
            if (stepScalars != null) {
                for (NDArray x : stepScalars) {
                    x.close();
                }
            }
            double[] v = {
                1 - lr * config.weightDecay(),
                lr / (1 - Math.pow(config.beta1(), t)),
                Math.sqrt(1 - Math.pow(config.beta2(), t))
            };
            stepScalars = new NDArray[v.length];
            for (int i = 0; i < v.length; i++) {
                stepScalars[i] = manager.create((float) v[i]);
                NDScope.unregister(stepScalars[i]); // outlives the update's scope
            }
            cachedStep = t;
            cachedLr = lr;
        }
        return stepScalars;
    }

    private Slot slot(String name, NDArray param) {
        Slot s = slots.get(name);
        if (s == null) {
            s = new Slot(
                    0,
                    manager.zeros(param.getShape(), DataType.FLOAT32, param.getDevice()),
                    manager.zeros(param.getShape(), DataType.FLOAT32, param.getDevice()));
            slots.put(name, s);
        } else if (!s.expAvg.getShape().equals(param.getShape())) {
            throw PaftException.badInput("optimizer state for " + name + " has shape " + s.expAvg.getShape()
                    + " but the parameter has " + param.getShape());
        }
        return s;
    }

    /** The step count of {@code name} (0 if never updated). */
    public long step(String name) {
        Slot s = slots.get(name);
        return s == null ? 0 : s.step;
    }

    /** A copy of the whole state, keyed by parameter name, in update order. */
    public Map<String, ParamState> exportState() {
        Map<String, ParamState> out = new LinkedHashMap<>();
        slots.forEach((name, s) -> out.put(
                name,
                new ParamState(
                        s.step, s.expAvg.getShape().getShape(), s.expAvg.toFloatArray(), s.expAvgSq.toFloatArray())));
        return out;
    }

    /** Replaces the state with {@code state} (exact float32 values), on {@code device}. */
    public void importState(Map<String, ParamState> state, Device device) {
        clearState();
        state.forEach((name, ps) -> {
            Shape shape = new Shape(ps.shape());
            if (ps.expAvg().length != shape.size() || ps.expAvgSq().length != shape.size()) {
                throw PaftException.badInput("optimizer state for " + name + ": " + ps.expAvg().length + "/"
                        + ps.expAvgSq().length + " values for shape " + shape);
            }
            slots.put(
                    name,
                    new Slot(
                            ps.step(),
                            onDevice(manager.create(ps.expAvg(), shape), device),
                            onDevice(manager.create(ps.expAvgSq(), shape), device)));
        });
    }

    /**
     * Writes {@code state} as a small big-endian binary: magic, count, then per parameter its
     * name, step, rank, dims, m values, v values.
     */
    public static void write(Map<String, ParamState> state, DataOutputStream out) throws IOException {
        out.writeInt(MAGIC);
        out.writeInt(state.size());
        for (Map.Entry<String, ParamState> e : state.entrySet()) {
            ParamState ps = e.getValue();
            out.writeUTF(e.getKey());
            out.writeLong(ps.step());
            out.writeInt(ps.shape().length);
            for (long d : ps.shape()) {
                out.writeLong(d);
            }
            for (float f : ps.expAvg()) {
                out.writeFloat(f);
            }
            for (float f : ps.expAvgSq()) {
                out.writeFloat(f);
            }
        }
    }

    /** Reads what {@link #write} wrote. */
    public static Map<String, ParamState> read(DataInputStream in) throws IOException {
        if (in.readInt() != MAGIC) {
            throw PaftException.badInput("not a paft AdamW state file (bad magic)");
        }
        int count = in.readInt();
        Map<String, ParamState> state = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            String name = in.readUTF();
            long step = in.readLong();
            long[] shape = new long[in.readInt()];
            long size = 1;
            for (int d = 0; d < shape.length; d++) {
                shape[d] = in.readLong();
                size *= shape[d];
            }
            if (size > Integer.MAX_VALUE || size < 0) {
                throw PaftException.badInput("optimizer state for " + name + " has an invalid size: " + size);
            }
            if (in.available() < Integer.MAX_VALUE
                    && 8 * size > in.available()) { // the moments are not all there: a truncated file
                throw new EOFException(
                        "optimizer state for " + name + " needs " + 8 * size + " bytes, " + in.available() + " left");
            }
            float[] m = new float[(int) size];
            float[] v = new float[(int) size];
            for (int j = 0; j < m.length; j++) {
                m[j] = in.readFloat();
            }
            for (int j = 0; j < v.length; j++) {
                v[j] = in.readFloat();
            }
            state.put(name, new ParamState(step, shape, m, v));
        }
        return state;
    }

    private static NDArray onDevice(NDArray cpu, Device device) {
        NDArray moved = cpu.toDevice(device, false);
        if (moved != cpu) {
            cpu.close();
        }
        return moved;
    }

    private void clearState() {
        for (Slot s : slots.values()) {
            s.expAvg.close();
            s.expAvgSq.close();
        }
        slots.clear();
    }

    @Override
    public void close() {
        slots.clear();
        manager.close();
    }
}
