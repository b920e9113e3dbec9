package dev.paft.io;

import java.util.Arrays;

/**
 * One tensor's entry in a safetensors header: name, dtype, shape and byte span in the data section.
 *
 * @param begin offset of the first byte, relative to the start of the data section
 * @param end offset one past the last byte
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    /** Number of elements: the product of the shape (1 for a scalar). */
    public long numel() {
        return numel(shape);
    }

    public long byteSize() {
        return end - begin;
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }
}
