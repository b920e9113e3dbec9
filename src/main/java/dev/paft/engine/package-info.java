/**
 * Starting DJL's PyTorch engine offline and choosing the device, the device's memory, and the cached scalar
 * tensors that stand in for Java-number operands under autograd ({@link dev.paft.engine.Scalars}).
 *
 * <p>Import contract: floor 2; may import errors, io.
 */
package dev.paft.engine;
