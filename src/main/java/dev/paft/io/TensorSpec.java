package dev.paft.io;

/** A tensor to be written: name, dtype and shape, known before its data (headers come first). */
public record TensorSpec(String name, DType dtype, long[] shape) {
    public long numel() {
        return TensorInfo.numel(shape);
    }

    public long byteSize() {
        return numel() * dtype.size();
    }
}
