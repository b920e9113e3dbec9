/**
 * The native engine, behind one door: loading libtorch once for DJL and JavaCPP ({@link dev.paft.engine.TorchBootstrap}),
 * starting DJL's PyTorch engine and choosing the device ({@link dev.paft.engine.Engines}), the bridge to JavaCPP's
 * libtorch ops DJL lacks ({@link dev.paft.engine.Torch}: bf16 casts that keep autograd, fused attention) and the DJL
 * internals the rest of paft needs (backward with an output gradient, zeroing gradients, the dropout seed), the
 * grad-mode scope ({@link dev.paft.engine.GradMode}), cached scalar constants and device memory. The only package
 * that imports {@code ai.djl.pytorch} or {@code org.bytedeco}.
 *
 * <p>Import contract: floor 2; may import errors, io.
 */
package dev.paft.engine;
