package dev.paft.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The bridge between DJL arrays and JavaCPP's libtorch bindings (the same libtorch, loaded once by
 * {@link TorchBootstrap}), and the one home of the DJL internals ({@code JniUtils}, {@code PtNDArray}) the
 * rest of paft needs: backward with an output gradient, zeroing a gradient, the dropout seed.
 *
 * <p>No data is copied either way. A DJL array's native handle is a pointer to a {@code torch::Tensor}; {@link
 * #view} wraps that pointer as a JavaCPP {@link Tensor} without taking ownership (closing the view frees nothing).
 * A JavaCPP result becomes a DJL array through {@link #adopt}: JavaCPP's ownership is disarmed
 * ({@code deallocate(false)}) and the DJL array, on the given manager, frees the tensor when it is closed.
 * Without the disarm both sides would free it (the process crashes).
 *
 * <p>What this adds to DJL 0.36 (docs/ENGINE-NOTES.md): dtype casts that keep autograd ({@link #cast}; DJL's
 * {@code toType} detaches), bfloat16 tensors (DJL cannot create or cast to them; a bf16 array made here works
 * with DJL's element-wise ops, matmul and shape ops, but never ask DJL for its {@code DataType}-dependent
 * operations: {@code softmax}, {@code toType}, {@code onesLike}, creation), and fused scaled-dot-product
 * attention ({@link #sdpa}).
 */
public final class Torch {
    private Torch() {}

    /** The compute dtypes paft uses. */
    public enum Dtype {
        F32(ScalarType.Float),
        BF16(ScalarType.BFloat16),
        F16(ScalarType.Half);

        final ScalarType type;

        Dtype(ScalarType type) {
            this.type = type;
        }
    }

    /** A non-owning pointer to a DJL array's {@code torch::Tensor}. */
    private static final class Borrowed extends Pointer {
        Borrowed(long address) {
            this.address = address;
        }
    }

    /** A JavaCPP view of {@code a}'s tensor (shared storage and autograd state; closing it frees nothing). */
    public static Tensor view(NDArray a) {
        return new Tensor(new Borrowed(((PtNDArray) a).getHandle()));
    }

    /**
     * Hands a JavaCPP result to DJL: the returned array on {@code manager} owns the tensor (JavaCPP's
     * deallocator is disarmed), {@code t} must not be used afterwards.
     */
    public static NDArray adopt(Tensor t, NDManager manager) {
        t.deallocate(false);
        return new PtNDArray((PtNDManager) manager, t.address());
    }

    /** The dtype of {@code a} (reads bf16, which DJL reports as UNKNOWN), or null for any other dtype. */
    public static Dtype dtype(NDArray a) {
        try (Tensor v = view(a)) {
            ScalarType s = v.scalar_type().intern(); // JavaCPP returns a fresh enum object; intern() is the constant
            for (Dtype d : Dtype.values()) {
                if (d.type == s) {
                    return d;
                }
            }
            return null;
        }
    }

    /**
     * {@code a} cast to {@code to} on {@code a}'s manager, keeping autograd (the cast is part of the graph: the
     * gradient flows back, cast to {@code a}'s dtype). Returns {@code a} itself when it already has that dtype.
     */
    public static NDArray cast(NDArray a, Dtype to) {
        return cast(a, to, a.getManager());
    }

    /**
     * As {@link #cast(NDArray, Dtype)}, the result on {@code into} (for a cast of a long-lived array, e.g. a
     * frozen weight, into a step's scope: on the weight's own manager the copy would live as long as the model).
     */
    public static NDArray cast(NDArray a, Dtype to, NDManager into) {
        try (Tensor v = view(a)) {
            if (v.scalar_type().intern() == to.type) {
                return a;
            }
            return adopt(v.to(to.type), into);
        }
    }

    /**
     * Fused attention {@code softmax(q k^T * scale + mask) v} (PyTorch's {@code scaled_dot_product_attention}:
     * flash or memory-efficient kernels on CUDA, the fused CPU kernel or its reference math otherwise), with
     * grouped-query heads read without copying k and v. The result lands on q's manager.
     *
     * @param q [B, H, T, D]
     * @param k [B, KV, S, D], H a multiple of KV
     * @param v [B, KV, S, D]
     * @param mask additive mask broadcastable to [B, H, T, S] in q's dtype, or null
     * @param causal apply the causal mask (only without {@code mask}; with one, put the causal part into it)
     * @param scale usually 1 / sqrt(D)
     * @return [B, H, T, D]
     */
    public static NDArray sdpa(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causal, double scale) {
        boolean gqa = q.getShape().get(1) != k.getShape().get(1);
        try (Tensor tq = view(q);
                Tensor tk = view(k);
                Tensor tv = view(v);
                Tensor tm = mask == null ? null : view(mask);
                TensorOptional m = tm == null ? new TensorOptional() : new TensorOptional(tm);
                DoubleOptional s = new DoubleOptional(scale)) {
            Tensor o = torch.scaled_dot_product_attention(tq, tk, tv, m, 0.0, causal, s, gqa);
            return adopt(o, q.getManager());
        }
    }

    /**
     * {@code k} [B, KV, S, D] with each head repeated {@code n} times in a row: [B, KV*n, S, D], head {@code g*n+j} a
     * copy of head g (HF's {@code repeat_kv}; {@code repeat_interleave} on dim 1, keeps autograd). The result lands
     * on k's manager.
     */
    public static NDArray repeatHeads(NDArray k, long n) {
        try (Tensor t = view(k);
                LongOptional dim = new LongOptional(1);
                LongOptional size = new LongOptional()) {
            return adopt(torch.repeat_interleave(t, n, dim, size), k.getManager());
        }
    }

    /** One autograd backward of {@code y} with output gradient {@code grad} (same shape as y). */
    public static void backward(NDArray y, NDArray grad) {
        JniUtils.backward((PtNDArray) y, (PtNDArray) grad, false, false);
    }

    /** Sets {@code p}'s accumulated gradient to zero. */
    public static void zeroGrad(NDArray p) {
        JniUtils.zeroGrad((PtNDArray) p);
    }

    /** Seeds libtorch's default generator (dropout masks). */
    public static void seed(long seed) {
        JniUtils.setSeed(seed);
    }

    /** True when autograd records ops on this thread. */
    public static boolean gradEnabled() {
        return JniUtils.isGradMode();
    }

    /** Turns recording on or off on this thread. Prefer {@link GradMode}, which restores the previous state. */
    static void setGradEnabled(boolean on) {
        JniUtils.setGradMode(on);
    }
}
