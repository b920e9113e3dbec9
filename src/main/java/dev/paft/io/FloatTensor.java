package dev.paft.io;

import java.util.Arrays;

/** A float32 tensor held in a Java array, row-major: the exchange type of io, lora, merge and report. */
public record FloatTensor(long[] shape, float[] data) {
    public FloatTensor {
        if (TensorInfo.numel(shape) != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + TensorInfo.numel(shape)
                    + " values, got " + data.length);
        }
    }

    public static FloatTensor of(float[] data, long... shape) {
        return new FloatTensor(shape, data);
    }

    public long numel() {
        return data.length;
    }

    /** Size of dimension i (negative i counts from the end). */
    public int dim(int i) {
        return (int) shape[i < 0 ? shape.length + i : i];
    }

    @Override
    public String toString() {
        return "FloatTensor" + Arrays.toString(shape);
    }
}
