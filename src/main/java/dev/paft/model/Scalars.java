package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Float32 scalar tensors cached on a long-lived manager: the only safe way to use constants in ops
 * under autograd (a Java {@code Number} operand is freed while autograd still points at it; see
 * DJL-NOTES.md trap 1). Put the per-step array first in each op so results land on the step scope.
 */
public final class Scalars {
    private final NDManager manager;
    private final ConcurrentHashMap<Float, NDArray> cache = new ConcurrentHashMap<>();

    public Scalars(NDManager manager) {
        this.manager = manager;
    }

    /** The scalar {@code v} (float32, shape []), created once. */
    public NDArray of(double v) {
        return cache.computeIfAbsent((float) v, f -> manager.full(new Shape(), f));
    }
}
