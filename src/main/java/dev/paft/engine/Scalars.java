package dev.paft.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Cached 0-dim constant tensors, one per (value, dtype, device), for use as operands of ops
 * under autograd: the one cache the model, the losses and the benchmarks share.
 *
 * <p>DJL wraps a Java {@code Number} operand in memory that is freed at once while autograd
 * keeps a pointer to it (docs/ENGINE-NOTES.md, trap 1), so every constant a loss multiplies or adds is a
 * tensor that lives on one long-lived manager for the life of the process. Use a constant as
 * the second operand ({@code x.mul(Scalars.of(beta, x))}) so that the result attaches to the
 * first operand's (per-step) manager.
 */
public final class Scalars {
    private record Key(double value, DataType dataType, Device device) {}

    private static final Map<Key, NDArray> CACHE = new ConcurrentHashMap<>();

    private Scalars() {}

    /** A float32 0-dim tensor holding {@code value} on {@code device}. */
    public static NDArray of(double value, Device device) {
        return of(value, DataType.FLOAT32, device);
    }

    /** A 0-dim tensor holding {@code value} with the dtype and device of {@code like}. */
    public static NDArray of(double value, NDArray like) {
        return of(value, like.getDataType(), like.getDevice());
    }

    /** A 0-dim tensor holding {@code value} (rounded once to {@code dataType}) on {@code device}. */
    public static NDArray of(double value, DataType dataType, Device device) {
        return CACHE.computeIfAbsent(new Key(value, dataType, device), Scalars::create);
    }

    private static NDArray create(Key key) {
        NDManager root = Holder.MANAGER;
        try (NDManager tmp = root.newSubManager()) {
            // Made in float64 then cast once, so a float64 constant is exact.
            NDArray c = tmp.create(key.value()).toType(key.dataType(), false).toDevice(key.device(), false);
            c.attach(root);
            return c;
        }
    }

    /** The long-lived manager, made on first use so that loading this class starts no engine. */
    private static final class Holder {
        static final NDManager MANAGER = NDManager.newBaseManager();
    }
}
