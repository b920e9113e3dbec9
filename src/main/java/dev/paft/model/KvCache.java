package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * Keys and values of earlier positions, per layer [B, KV, S, D] (after rotary), for incremental decoding:
 * feed the prompt once, then one token at a time; {@link #length()} is the number of positions held.
 * Owns its arrays on its own manager; use it under no-grad (generation), one sequence batch per cache.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int length;
    private int pending;

    KvCache(NDManager parent, int layers) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** Positions already cached (the offset of the next token). */
    public int length() {
        return length;
    }

    /** Appends this step's k/v [B, KV, T, D] to layer {@code layer}; returns the full k/v as views on {@code scope}. */
    NDArray[] append(NDManager scope, int layer, NDArray k, NDArray v) {
        NDArray kAll = keys[layer] == null ? k.duplicate() : NDArrays.concat(new NDList(keys[layer], k), 2);
        NDArray vAll = values[layer] == null ? v.duplicate() : NDArrays.concat(new NDList(values[layer], v), 2);
        kAll.attach(manager);
        vAll.attach(manager);
        if (keys[layer] != null) {
            keys[layer].close();
            values[layer].close();
        }
        keys[layer] = kAll;
        values[layer] = vAll;
        pending = (int) kAll.getShape().get(2);
        return new NDArray[] {view(scope, kAll), view(scope, vAll)};
    }

    /** Marks the step complete: all layers have appended. */
    void commit() {
        length = pending;
    }

    private static NDArray view(NDManager scope, NDArray x) {
        NDArray y = x.reshape(x.getShape()); // an alias, so ops on it land on the step scope
        y.attach(scope);
        return y;
    }

    @Override
    public void close() {
        manager.close();
    }
}
