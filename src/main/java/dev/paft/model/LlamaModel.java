package dev.paft.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import dev.paft.config.LoraConfig;
import dev.paft.engine.DeviceMemory;
import dev.paft.engine.GradMode;
import dev.paft.engine.Scalars;
import dev.paft.engine.Torch;
import dev.paft.engine.TorchBootstrap;
import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.HfModelConfig;
import dev.paft.io.TensorInfo;
import dev.paft.io.TensorStore;
import dev.paft.io.WeightStorage;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraLinear;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.slf4j.LoggerFactory;

/**
 * A Llama-family causal LM (Llama, Mistral, Qwen2):
 * {@code logits = W_head RMSNorm(layer_L(... layer_1(E[ids])))}, W_head = E when embeddings are tied.
 *
 * <p>Frozen weights live on the model's manager in native memory, float32 or 2 bytes per weight
 * ({@code model.dtype} f16, or bf16 values held as float16; see {@link WeightStorage}), widened per use;
 * norms and biases stay float32. Every forward builds its arrays on the caller's step scope; LoRA
 * factors come from the adapter passed in (null or disabled: the pure base, e.g. the DPO reference).
 * Forward is safe to call from several threads on one model (each with its own scope and adapter).
 *
 * <p>Shapes: inputIds [B, T] int64, attentionMask [B, S] (1 real, 0 pad; S = cached + T), logits [B, T, vocab].
 */
public final class LlamaModel implements AutoCloseable {
    /** Additive mask value: large but finite, so rows whose keys are all padding give no NaN. */
    public static final float MASK_NEG = -1e9f;

    private final HfModelConfig config;
    private final NDManager manager;
    private final Rotary rotary;
    private final NDArray embed;
    private final NDArray finalNorm;
    private final NDArray lmHead;
    private final LayerWeights[] layers;
    private final WeightStorage storage;
    private final boolean f16Storage;
    private final int slidingWindow;
    private NDArray causal;
    private int causalCap;

    /**
     * Where the constructor reads weights from: elements {@code [from, from + count)} of tensor {@code name},
     * converted to {@code storage} and written at {@code dst}'s position. Returns the index of the first finite
     * value beyond half's range (a 2-byte storage cannot hold it), or -1.
     */
    interface WeightSource {
        long read(String name, long from, long count, WeightStorage storage, ByteBuffer dst);
    }

    /** Largest piece of one tensor filled at a time (a tensor's native memory is written through a view). */
    static long pieceBytes = 1L << 30;

    private LlamaModel(HfModelConfig config, Device device, WeightStorage storage, WeightSource source, String origin) {
        this.config = config;
        this.storage = storage;
        this.f16Storage = storage.half();
        this.slidingWindow = slidingWindow(config);
        this.manager = NDManager.newBaseManager(device);
        try {
            this.rotary = new Rotary(manager, config);
            this.embed = frozen(source, origin, HfNames.EMBED, storage);
            this.finalNorm = frozen(source, origin, HfNames.FINAL_NORM, WeightStorage.F32);
            this.lmHead = config.tieWordEmbeddings() ? embed : frozen(source, origin, HfNames.LM_HEAD, storage);
            this.layers = new LayerWeights[config.numLayers()];
            for (int i = 0; i < layers.length; i++) {
                NDArray[] proj = new NDArray[Proj.values().length];
                String[] keys = new String[proj.length];
                NDArray[] bias = config.attentionBias() ? new NDArray[proj.length] : null;
                for (Proj p : Proj.values()) {
                    proj[p.ordinal()] = frozen(source, origin, HfNames.weight(i, p), storage);
                    keys[p.ordinal()] = HfNames.module(i, p);
                    if (bias != null && (p == Proj.Q || p == Proj.K || p == Proj.V)) {
                        bias[p.ordinal()] = frozen(source, origin, HfNames.bias(i, p), WeightStorage.F32);
                    }
                }
                layers[i] = new LayerWeights(
                        i,
                        frozen(source, origin, HfNames.inputNorm(i), WeightStorage.F32),
                        frozen(source, origin, HfNames.postAttentionNorm(i), WeightStorage.F32),
                        proj,
                        bias,
                        keys);
            }
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * One frozen tensor in native (libtorch-owned) memory: allocated empty, then filled from the source through
     * a direct view of that memory (row blocks of at most {@link #pieceBytes}). No JVM-side copy of the tensor
     * exists at any time, so neither the Java heap nor {@code -XX:MaxDirectMemorySize} bounds the model size.
     * On a GPU each tensor is filled on the CPU, copied to the device and freed.
     */
    private NDArray frozen(WeightSource source, String origin, String name, WeightStorage as) {
        long[] shape = HfNames.expectedTensors(config).get(name);
        DataType type = as.half() ? DataType.FLOAT16 : DataType.FLOAT32;
        boolean cpu = manager.getDevice().equals(Device.cpu());
        NDManager host = cpu ? manager : NDManager.newBaseManager(Device.cpu());
        NDArray t = host.create(new Shape(shape), type);
        try {
            long numel = TensorInfo.numel(shape);
            long rows = shape.length == 0 ? 1 : shape[0];
            long perRow = rows == 0 ? 0 : numel / rows;
            long rowsPerPiece = Math.max(1, pieceBytes / Math.max(1, perRow * as.bytes()));
            for (long r = 0; r < rows; r += rowsPerPiece) {
                long n = Math.min(rowsPerPiece, rows - r);
                boolean whole = r == 0 && n == rows;
                NDArray piece = whole ? t : t.get(new NDIndex("{}:{}", r, r + n));
                try {
                    ByteBuffer view = piece.toByteBuffer(true).order(ByteOrder.LITTLE_ENDIAN);
                    if (view.capacity() != n * perRow * as.bytes()) {
                        throw new IllegalStateException("tensor '" + name + "': view of " + view.capacity()
                                + " bytes for " + n * perRow + " elements");
                    }
                    long bad = source.read(name, r * perRow, n * perRow, as, view);
                    if (bad >= 0) {
                        throw PaftException.badInput(
                                origin + ": tensor '" + name + "' holds a value beyond the range of "
                                        + "2-byte weights (|w| > 65504, element " + bad + "): set model.dtype: f32");
                    }
                } finally {
                    if (!whole) {
                        piece.close();
                    }
                }
            }
            requireFinite(t, origin, name);
            if (cpu) {
                return t;
            }
            NDArray onDevice = t.toDevice(manager.getDevice(), true);
            onDevice.attach(manager);
            return onDevice;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        } finally {
            if (!cpu) {
                host.close();
            }
        }
    }

    /**
     * Every value of a loaded weight is finite, else a numeric failure (exit 4) naming the tensor and its first
     * bad element: scores, generations and training never run on broken weights (one pass per tensor).
     */
    private static void requireFinite(NDArray t, String origin, String name) {
        try (NDManager m = t.getManager().newSubManager()) {
            NDArray flat = t.reshape(-1);
            flat.attach(m);
            NDArray nan = flat.isNaN();
            nan.attach(m);
            NDArray inf = flat.isInfinite();
            inf.attach(m);
            NDArray bad = nan.logicalOr(inf);
            bad.attach(m);
            NDArray count = bad.countNonzero();
            count.attach(m);
            long n = count.getLong();
            if (n == 0) {
                return;
            }
            NDArray firstArr = bad.toType(DataType.INT32, false).argMax();
            firstArr.attach(m);
            long first = firstArr.getLong();
            NDArray v = flat.get(first).toType(DataType.FLOAT32, false);
            v.attach(m);
            throw PaftException.numeric(
                    origin + ": tensor '" + name + "' holds " + v.getFloat() + " at element " + first + " (" + n
                            + " of " + flat.size() + " values are NaN or Inf): the base model weights are not finite");
        }
    }

    /**
     * Loads a Hugging Face model directory (config.json + safetensors, single or sharded; F32/F16/BF16) with
     * float32 or float16 frozen weights (kept for callers that choose between the two).
     */
    public static LlamaModel load(Path dir, Device device, boolean f16Storage) {
        return load(dir, device, f16Storage ? WeightStorage.F16 : WeightStorage.F32);
    }

    /**
     * Loads a Hugging Face model directory (config.json + safetensors, single or sharded; F32/F16/BF16).
     * Unsupported architectures, missing, unexpected or misshapen tensors are bad input (exit 3) naming
     * the key. Each tensor is read from the file straight into native memory ({@link #frozen}); the files
     * are read with positional reads, never mapped, so the process holds one copy of the weights.
     * Weights that cannot fit the machine are refused before anything is allocated (exit 1, naming the
     * setting to change); an allocation that fails while loading says the same.
     *
     * @param storage how projection and embedding weights are held (norms and biases stay float32)
     */
    public static LlamaModel load(Path dir, Device device, WeightStorage storage) {
        HfModelConfig cfg = HfModelConfig.read(dir);
        long t0 = System.nanoTime();
        try (TensorStore store = TensorStore.openModel(dir)) {
            validate(cfg, store);
            long bytes = weightBytes(cfg, storage);
            DeviceMemory.requireFits(
                    device,
                    bytes,
                    dir + ": the model's weights (" + storage.configName() + ")",
                    storage == WeightStorage.F32
                            ? "set model.dtype: bf16 (2 bytes per weight)"
                            : "use a machine with more memory");
            try {
                LlamaModel m = new LlamaModel(cfg, device, storage, store::readInto, dir.toString());
                LoggerFactory.getLogger(LlamaModel.class)
                        .debug(
                                "loaded {} ({}, {} layers, hidden {}, {}) on {} in {} ms; JVM heap used {} MiB",
                                dir,
                                cfg.architecture(),
                                cfg.numLayers(),
                                cfg.hiddenSize(),
                                storage.configName(),
                                device,
                                (System.nanoTime() - t0) / 1_000_000,
                                (Runtime.getRuntime().totalMemory()
                                                - Runtime.getRuntime().freeMemory())
                                        >> 20);
                return m;
            } catch (RuntimeException e) {
                if (DeviceMemory.isOutOfMemory(e)) {
                    throw DeviceMemory.loadFailed(device, dir, bytes, storage, e);
                }
                throw e;
            }
        }
    }

    /** Bytes the frozen weights take in memory: projections and embeddings at {@code storage}, the rest float32. */
    public static long weightBytes(HfModelConfig cfg, WeightStorage storage) {
        long n = 0;
        for (var e : HfNames.expectedTensors(cfg).entrySet()) {
            boolean small = e.getKey().endsWith("norm.weight") || e.getKey().endsWith(".bias");
            n += TensorInfo.numel(e.getValue()) * (small ? 4 : storage.bytes());
        }
        return n;
    }

    /** A model with synthetic weights (N(0, 0.02) projections, unit norms), seeded: for benchmarks and tests. */
    public static LlamaModel random(HfModelConfig cfg, long seed, Device device, boolean f16Storage) {
        return random(cfg, seed, device, f16Storage ? WeightStorage.F16 : WeightStorage.F32);
    }

    /** As above with any storage; the weights (before rounding to the storage) do not depend on it. */
    public static LlamaModel random(HfModelConfig cfg, long seed, Device device, WeightStorage storage) {
        SplittableRandom rng = new SplittableRandom(seed);
        ByteBuffer chunk = ByteBuffer.allocate(4 << 16).order(ByteOrder.LITTLE_ENDIAN);
        return new LlamaModel(
                cfg,
                device,
                storage,
                (name, from, count, as, dst) -> {
                    boolean norm = name.endsWith("norm.weight");
                    long bad = -1;
                    for (long done = 0; done < count; ) {
                        int m = (int) Math.min(chunk.capacity() / 4, count - done);
                        chunk.clear();
                        for (int i = 0; i < m; i++) {
                            chunk.putFloat(norm ? 1f : (float) (gaussian(rng) * 0.02));
                        }
                        chunk.flip();
                        long b = as.convert(chunk, DType.F32, m, dst);
                        if (b >= 0 && bad < 0) {
                            bad = from + done + b;
                        }
                        done += m;
                    }
                    return bad;
                },
                "random model");
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    /**
     * The attention window (Mistral's {@code sliding_window}, Qwen2's when {@code use_sliding_window}), or 0.
     * Within the window sliding-window attention equals full causal attention, which is what paft computes.
     */
    static int slidingWindow(HfModelConfig c) {
        var raw = c.raw();
        if (raw == null || !raw.path("sliding_window").canConvertToInt()) {
            return 0;
        }
        boolean on = c.architecture().equals("MistralForCausalLM")
                || c.architecture().equals("Qwen2ForCausalLM")
                        && raw.path("use_sliding_window").asBoolean(false);
        return on ? raw.path("sliding_window").asInt() : 0;
    }

    /**
     * Checks a model directory's config.json against its safetensors without reading any weight: counts
     * first (layers, vocabulary, hidden size: a wrong count fails before anything proportional to it is
     * built), then every tensor's name, shape and dtype. For {@code --dry-run}.
     */
    public static HfModelConfig check(Path dir) {
        HfModelConfig cfg = HfModelConfig.read(dir);
        try (TensorStore store = TensorStore.openModel(dir)) {
            validate(cfg, store);
        }
        return cfg;
    }

    static void validate(HfModelConfig cfg, TensorStore store) {
        checkCounts(cfg, store);
        Map<String, long[]> expected = HfNames.expectedTensors(cfg);
        for (String name : store.names()) {
            if (name.endsWith(HfNames.ROTARY_BUFFER_SUFFIX)
                    || cfg.tieWordEmbeddings() && name.equals(HfNames.LM_HEAD)) {
                continue; // recomputed buffer; tied checkpoints may repeat the embedding as lm_head
            }
            if (!expected.containsKey(name)) {
                throw PaftException.badInput(store.dir() + ": unexpected tensor '" + name + "' for "
                        + cfg.architecture()
                        + " with " + cfg.numLayers() + " layers" + (cfg.attentionBias() ? "" : " and no attention bias")
                        + (cfg.tieWordEmbeddings() ? " and tied embeddings" : ""));
            }
        }
        for (var e : expected.entrySet()) {
            if (!store.contains(e.getKey())) {
                throw PaftException.badInput(store.dir() + ": missing tensor '" + e.getKey() + "'");
            }
            TensorInfo info = store.info(e.getKey());
            if (!Arrays.equals(info.shape(), e.getValue())) {
                throw PaftException.badInput(store.dir() + ": tensor '" + e.getKey() + "' has shape "
                        + info.shapeString() + " but config.json implies " + Arrays.toString(e.getValue()));
            }
            if (info.dtype() != DType.F32 && info.dtype() != DType.F16 && info.dtype() != DType.BF16) {
                throw PaftException.badInput(store.dir() + ": tensor '" + e.getKey() + "' has dtype " + info.dtype()
                        + " (expected F32, F16 or BF16)");
            }
        }
    }

    /**
     * config.json's {@code num_hidden_layers}, {@code vocab_size} and {@code hidden_size} against the
     * tensors the files hold (one pass over the names), so an absurd count is bad input (exit 3) at
     * once instead of a table of a billion expected tensors.
     */
    static void checkCounts(HfModelConfig cfg, TensorStore store) {
        String prefix = "model.layers.";
        int layers = 0; // 1 + the highest layer index present
        String highest = null;
        for (String name : store.names()) {
            int dot = name.indexOf('.', prefix.length());
            if (name.startsWith(prefix) && dot > prefix.length()) {
                int index;
                try {
                    index = Integer.parseInt(name.substring(prefix.length(), dot));
                } catch (NumberFormatException e) {
                    throw PaftException.badInput(
                            store.dir() + ": unexpected tensor '" + name + "' (layer index is not a number)");
                }
                if (index >= layers) {
                    layers = index == Integer.MAX_VALUE ? index : index + 1;
                    highest = name;
                }
            }
        }
        Path config = store.dir().resolve("config.json");
        if (layers != cfg.numLayers()) {
            throw PaftException.badInput(
                    config + ": num_hidden_layers = " + cfg.numLayers() + " but the safetensors hold " + layers
                            + " layers" + (highest == null ? "" : " (the last: tensor '" + highest + "')"));
        }
        if (store.contains(HfNames.EMBED)) {
            long[] shape = store.info(HfNames.EMBED).shape();
            if (shape.length == 2 && shape[0] != cfg.vocabSize()) {
                throw PaftException.badInput(config + ": vocab_size = " + cfg.vocabSize() + " but '" + HfNames.EMBED
                        + "' has " + shape[0] + " rows");
            }
            if (shape.length == 2 && shape[1] != cfg.hiddenSize()) {
                throw PaftException.badInput(config + ": hidden_size = " + cfg.hiddenSize() + " but '" + HfNames.EMBED
                        + "' has " + shape[1] + " columns");
            }
        }
    }

    /** Logits [B, T, vocab] float32 of a batch (right padding; mask may be null = all real). */
    public NDArray forward(
            NDManager scope, NDArray inputIds, NDArray attentionMask, LoraAdapter adapter, boolean training) {
        return forward(scope, inputIds, attentionMask, null, adapter, null, training);
    }

    /**
     * The full forward: logits [B, T, vocab] on {@code scope}.
     *
     * @param attentionMask [B, S] with S = cached + T (1 real, 0 pad) or null
     * @param positionIds [B, T] int64 or null for {@code cached .. cached+T-1} (left-padded generation
     *     passes {@code cumsum(mask) - 1})
     * @param adapter LoRA factors, or null / disabled for the base
     * @param cache KV cache to read and extend (generation, under no-grad), or null
     * @param training enables LoRA dropout
     */
    public NDArray forward(
            NDManager scope,
            NDArray inputIds,
            NDArray attentionMask,
            NDArray positionIds,
            LoraAdapter adapter,
            KvCache cache,
            boolean training) {
        NDArray h = hidden(scope, inputIds, attentionMask, positionIds, adapter, cache, training);
        return logits(scope, h);
    }

    /** {@code h W_head^T}: logits [B, T, vocab] of final hidden states [B, T, hidden]. */
    public NDArray logits(NDManager scope, NDArray h) {
        Pass p = pass(scope, null, null, null, null, false, null, Precision.FP32, false);
        return LoraLinear.linear(h, p.use(lmHead), null); // [B, T, vocab]
    }

    /** Final hidden states [B, T, hidden] (after the last RMSNorm), see {@link #forward}. */
    public NDArray hidden(
            NDManager scope,
            NDArray inputIds,
            NDArray attentionMask,
            NDArray positionIds,
            LoraAdapter adapter,
            KvCache cache,
            boolean training) {
        return hidden(scope, inputIds, attentionMask, positionIds, adapter, cache, training, Precision.FP32);
    }

    /** As above, computed in {@code precision}; the result is float32 either way. */
    NDArray hidden(
            NDManager scope,
            NDArray inputIds,
            NDArray attentionMask,
            NDArray positionIds,
            LoraAdapter adapter,
            KvCache cache,
            boolean training,
            Precision precision) {
        long b = inputIds.getShape().get(0);
        int t = Math.toIntExact(inputIds.getShape().get(1));
        int offset = cache == null ? 0 : cache.length();
        int s = offset + t;
        checkWindow(s);
        // rotary tables for the positions of this step
        NDList cs;
        if (positionIds == null) {
            cs = rotary.tables(scope, offset, t); // [T, D]
        } else {
            NDArray maxPos = positionIds.max();
            maxPos.attach(scope);
            int max = Math.toIntExact(maxPos.toLongArray()[0]);
            cs = rotary.tables(scope, positionIds, max); // [B, 1, T, D]
        }
        cs = inCompute(scope, cs, precision);
        boolean causalOnly = cache == null && positionIds == null && Pass.causalOnly(attentionMask);
        NDArray mask = attentionMask(scope, b, t, s, attentionMask, causalOnly, precision);
        Pass p = pass(scope, cs.get(0), cs.get(1), mask, adapter, training, cache, precision, causalOnly);
        NDArray x = inCompute(scope, embed(scope, inputIds), precision); // [B, T, hidden]
        for (LayerWeights w : layers) {
            if (cache != null) {
                x = DecoderLayer.forward(p, w, x); // generation: k/v go into the cache on the step scope
                continue;
            }
            // Each layer runs in its own sub-manager; only its output moves to the step scope. Its temporaries
            // (rotary halves, casts, LoRA branches, attention probabilities, ...) and its input are freed when
            // the layer is done, as PyTorch frees a tensor when its last reference goes, instead of piling up
            // until the step ends. Safe under autograd: closing a handle drops only that reference, and the
            // graph keeps its own reference to every tensor it saved for backward (EagerCloseTest).
            try (NDManager layerScope = scope.newSubManager()) {
                x.attach(layerScope);
                NDArray y = DecoderLayer.forward(
                        pass(layerScope, cs.get(0), cs.get(1), mask, adapter, training, null, precision, causalOnly),
                        w,
                        x);
                y.attach(scope);
                x = y;
            }
        }
        if (cache != null) {
            cache.commit();
        }
        return finalNorm(scope, x);
    }

    /** The last RMSNorm, in float32 whatever the compute precision (transformers upcasts there too). */
    private NDArray finalNorm(NDManager scope, NDArray x) {
        return RmsNorm.rmsNorm(Torch.cast(x, Torch.Dtype.F32, scope), finalNorm, scalar(config.rmsNormEps()));
    }

    /** Rotary tables in the compute dtype. */
    private static NDList inCompute(NDManager scope, NDList cs, Precision precision) {
        return precision == Precision.BF16
                ? new NDList(inCompute(scope, cs.get(0), precision), inCompute(scope, cs.get(1), precision))
                : cs;
    }

    /** x in the compute dtype (bf16 casts keep autograd). */
    private static NDArray inCompute(NDManager scope, NDArray x, Precision precision) {
        return precision == Precision.BF16 ? Torch.cast(x, Torch.Dtype.BF16, scope) : x;
    }

    /**
     * The additive mask in the compute dtype, or null when {@code causalOnly} and the fused kernel runs (it applies
     * is_causal itself; see {@link Pass}).
     */
    private NDArray attentionMask(
            NDManager scope, long b, int t, int s, NDArray attentionMask, boolean causalOnly, Precision precision) {
        if (causalOnly && TorchBootstrap.bridgeAvailable()) {
            return null;
        }
        return inCompute(scope, attentionBias(scope, b, t, s, attentionMask), precision);
    }

    /** Additive attention mask: causal [T, S] plus padding [B, 1, 1, S] when a mask is given. */
    private NDArray attentionBias(NDManager scope, long b, int t, int s, NDArray attentionMask) {
        NDArray mask = causalMask(scope, t, s);
        if (attentionMask == null) {
            return mask;
        }
        if (attentionMask.getShape().get(0) != b || attentionMask.getShape().get(1) != s) {
            throw new IllegalArgumentException(
                    "attention mask " + attentionMask.getShape() + " must be [" + b + ", " + s + "]");
        }
        NDArray pad = attentionMask.toType(DataType.FLOAT32, false);
        pad.attach(scope);
        pad = pad.sub(scalar(1)).mul(scalar(-MASK_NEG)).reshape(b, 1, 1, s); // 0 real, NEG pad
        return pad.add(mask); // [B, 1, T, S]
    }

    /**
     * The decoder stack of one training micro-batch, ready for a manual backward (see {@link TrainingForward}).
     * Right-padded rows from position 0; no KV cache.
     *
     * <p>Under no-grad, or when not {@code training}, this is the plain forward ({@link #hidden}) and there is no
     * backward. Otherwise LoRA dropout is re-seeded before every layer from ({@code dropoutSeed}, layer), so a
     * layer run twice draws the same masks, and:
     * <ul>
     *   <li>without {@code checkpoint}, the graph of every layer is kept and {@code backward(g)} runs one
     *       autograd backward of the final hidden states with gradient g;
     *   <li>with {@code checkpoint} (activation checkpointing), the forward runs under no-grad keeping only each
     *       layer's input [rows, T, H]; {@code backward(g)} walks the layers from the last: it recomputes layer
     *       l under autograd from its saved input (marked as requiring a gradient), back-propagates the
     *       incoming gradient through it (a vector-Jacobian product: backward of the output with gradient g),
     *       which accumulates that layer's LoRA gradients, and passes the input's gradient to layer l-1. Only
     *       one layer's activations exist at a time.
     * </ul>
     * Both give the same gradients (the recompute repeats the forward's operations and dropout masks).
     */
    public TrainingForward trainingForward(
            NDManager scope,
            NDArray inputIds,
            NDArray attentionMask,
            LoraAdapter adapter,
            boolean training,
            long dropoutSeed,
            boolean checkpoint) {
        return trainingForward(
                scope, inputIds, attentionMask, adapter, training, dropoutSeed, checkpoint, Precision.FP32);
    }

    /**
     * As above in {@code precision} ({@code training.precision}): in bf16 the decoder layers compute in bfloat16
     * (and checkpointing keeps each layer's input in bf16, half the memory); the final hidden states, their
     * gradient and the LoRA factors' gradients are float32.
     */
    public TrainingForward trainingForward(
            NDManager scope,
            NDArray inputIds,
            NDArray attentionMask,
            LoraAdapter adapter,
            boolean training,
            long dropoutSeed,
            boolean checkpoint,
            Precision precision) {
        if (!training || !GradMode.enabled()) {
            return new TrainingForward(
                    hidden(scope, inputIds, attentionMask, null, adapter, null, training, precision), null);
        }
        long b = inputIds.getShape().get(0);
        int t = Math.toIntExact(inputIds.getShape().get(1));
        checkWindow(t);
        NDList cs = inCompute(scope, rotary.tables(scope, 0, t), precision);
        boolean causalOnly = Pass.causalOnly(attentionMask);
        NDArray mask = attentionMask(scope, b, t, t, attentionMask, causalOnly, precision);
        boolean reseed = adapter != null && adapter.isEnabled() && adapter.dropout() > 0;
        if (!checkpoint) {
            NDArray x = inCompute(scope, embed(scope, inputIds), precision);
            for (LayerWeights w : layers) {
                x = layer(scope, w, x, cs, mask, causalOnly, adapter, reseed, dropoutSeed, precision);
            }
            NDArray out = finalNorm(scope, x); // with its graph
            return new TrainingForward(out.stopGradient(), g -> backward(out, g));
        }
        NDArray[] inputs = new NDArray[layers.length];
        NDArray last = GradMode.noGrad(() -> {
            NDArray x = inCompute(scope, embed(scope, inputIds), precision);
            for (int i = 0; i < layers.length; i++) {
                inputs[i] = x;
                x = layer(scope, layers[i], x, cs, mask, causalOnly, adapter, reseed, dropoutSeed, precision);
            }
            return x;
        });
        NDArray hidden = GradMode.noGrad(() -> finalNorm(scope, last));
        return new TrainingForward(hidden, g -> {
            NDArray grad = vjp(scope, last, x -> finalNorm(scope, x), g, true);
            last.close();
            for (int i = layers.length - 1; i >= 0; i--) {
                LayerWeights w = layers[i];
                NDArray in = inputs[i];
                NDArray next = vjp(
                        scope,
                        in,
                        x -> layer(scope, w, x, cs, mask, causalOnly, adapter, reseed, dropoutSeed, precision),
                        grad,
                        i > 0);
                grad.close();
                in.close();
                grad = next;
            }
        });
    }

    /**
     * Backward of {@code f} at {@code x} with output gradient {@code gradOut}, recomputing f under autograd in
     * its own scope; returns {@code dL/dx} on {@code scope} when {@code needInputGrad} (else null).
     */
    private static NDArray vjp(
            NDManager scope, NDArray x, Function<NDArray, NDArray> f, NDArray gradOut, boolean needInputGrad) {
        try (NDManager m = scope.newSubManager()) {
            NDArray leaf = x.stopGradient();
            leaf.attach(m);
            if (needInputGrad) {
                leaf.setRequiresGradient(true);
            }
            NDArray y = GradMode.withGrad(() -> f.apply(leaf));
            y.attach(m);
            backward(y, gradOut);
            if (!needInputGrad) {
                return null;
            }
            NDArray g = leaf.getGradient();
            g.attach(scope);
            return g;
        }
    }

    /** One autograd backward of {@code y} with output gradient {@code grad}. */
    private static void backward(NDArray y, NDArray grad) {
        Torch.backward(y, grad);
    }

    /**
     * Decoder layer {@code w} on x in its own sub-manager (its temporaries are freed when it returns; only the
     * output moves to {@code scope}), LoRA dropout re-seeded from (seed, layer) first when {@code reseed}.
     */
    private NDArray layer(
            NDManager scope,
            LayerWeights w,
            NDArray x,
            NDList cs,
            NDArray mask,
            boolean causalOnly,
            LoraAdapter adapter,
            boolean reseed,
            long seed,
            Precision precision) {
        if (reseed) {
            Torch.seed(layerSeed(seed, w.index()));
        }
        // An op's result lands on its first operand's manager: x moves to the layer's scope while the layer runs, so
        // every temporary of the layer is freed with that scope (not kept on x's manager until the step ends),
        // and moves back to where it lived before the scope closes.
        NDManager home = x.getManager();
        try (NDManager layerScope = scope.newSubManager()) {
            x.attach(layerScope);
            try {
                NDArray y = DecoderLayer.forward(
                        pass(layerScope, cs.get(0), cs.get(1), mask, adapter, true, null, precision, causalOnly), w, x);
                y.attach(scope);
                return y;
            } finally {
                x.attach(home);
            }
        }
    }

    /** The dropout seed of one layer of a micro-batch (a SplitMix64 step of seed and layer). */
    static long layerSeed(long seed, int layer) {
        long z = seed + (layer + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private void checkWindow(int s) {
        if (slidingWindow > 0 && s > slidingWindow) {
            throw PaftException.usage(config.architecture() + " uses sliding-window attention (window " + slidingWindow
                    + "), which paft does not implement: sequences must be at most " + slidingWindow + " tokens, got "
                    + s);
        }
    }

    /** The label scorer of this model's LM head, {@code chunk} positions at a time. */
    public LabelScorer scorer(int chunk) {
        return new LabelScorer(lmHead, chunk);
    }

    private Pass pass(
            NDManager scope,
            NDArray cos,
            NDArray sin,
            NDArray mask,
            LoraAdapter adapter,
            boolean training,
            KvCache cache,
            Precision precision,
            boolean causalOnly) {
        return new Pass(scope, config, cos, sin, mask, adapter, training, cache, precision, causalOnly);
    }

    /** Token embeddings E[ids] [B, T, hidden] float32 on {@code scope}. */
    NDArray embed(NDManager scope, NDArray ids) {
        NDArray idx = ids.getDataType() == DataType.INT64 ? ids : ids.toType(DataType.INT64, false);
        NDArray x = idx.getNDArrayInternal()
                .embedding(idx, embed, SparseFormat.DENSE)
                .singletonOrThrow();
        x.attach(scope);
        if (idx != ids) {
            idx.attach(scope);
        }
        if (x.getDataType() != DataType.FLOAT32) {
            x = x.toType(DataType.FLOAT32, false);
            x.attach(scope);
        }
        return x;
    }

    /** Causal additive mask for T queries ending at position S-1 over S keys: [T, S], a view on {@code scope}. */
    private synchronized NDArray causalMask(NDManager scope, int t, int s) {
        if (s > causalCap) {
            int cap = Math.max(128, Integer.highestOneBit(s - 1) << 1);
            try (GradMode off = GradMode.off();
                    NDManager tmp = manager.newSubManager()) {
                NDArray c = Attention.causal(tmp, cap, scalar(MASK_NEG));
                c.attach(manager);
                if (causal != null) {
                    causal.close(); // views already handed out keep their storage alive
                }
                causal = c;
                causalCap = cap;
            }
        }
        return causal.get(scope, new NDIndex("{}:{}, 0:{}", s - t, s, s));
    }

    /** A new empty KV cache for this model (close it when done). */
    public KvCache newCache() {
        return new KvCache(manager, config.numLayers());
    }

    /** Adaptable modules (PEFT module key -> base shape [out, in]) among {@code targets} ("q_proj", ...). */
    public Map<String, long[]> loraModules(List<String> targets) {
        return HfNames.loraModules(config, targets);
    }

    /** A fresh adapter (B = 0, seeded A) over this model. */
    public LoraAdapter newAdapter(LoraConfig lora, long seed, String baseModelNameOrPath) {
        return LoraAdapter.create(
                HfNames.loraTargets(config, lora.targetModules()), lora, seed, baseModelNameOrPath, manager);
    }

    /** Loads a PEFT adapter directory, validated against this model. */
    public LoraAdapter loadAdapter(Path dir) {
        return LoraAdapter.load(dir, loraModules(Proj.names()), manager);
    }

    /**
     * Adds every module's delta into the base weights: {@code W += scaling * B @ A} (in place, float32
     * math, rounded to float16 when storage is halved). Afterwards run with no adapter.
     */
    public void mergeAdapter(LoraAdapter adapter) {
        try (GradMode off = GradMode.off();
                NDManager scope = manager.newSubManager()) {
            for (LayerWeights w : layers) {
                for (Proj p : Proj.values()) {
                    if (adapter.modules().containsKey(w.keys()[p.ordinal()])) {
                        NDArray delta = adapter.delta(scope, w.keys()[p.ordinal()]); // [out, in]
                        NDArray weight = w.proj()[p.ordinal()];
                        if (weight.getDataType() == DataType.FLOAT32) {
                            weight.addi(delta);
                        } else {
                            NDArray sum = weight.toType(DataType.FLOAT32, false);
                            sum.attach(scope);
                            NDArray back = sum.add(delta).toType(weight.getDataType(), false);
                            back.attach(scope);
                            weight.set(new NDIndex(":"), back); // copy into the stored tensor
                        }
                    }
                }
            }
        }
    }

    public HfModelConfig config() {
        return config;
    }

    /** The long-lived manager holding the frozen weights (adapters and caches are sub-managers of it). */
    public NDManager manager() {
        return manager;
    }

    /** Cached scalar constants on the model's manager (safe operands under autograd). */
    /** A float32 scalar constant on this model's device (cached; see {@link Scalars}). */
    public NDArray scalar(double v) {
        return Scalars.of(v, manager.getDevice());
    }

    public boolean f16Storage() {
        return f16Storage;
    }

    /** How the frozen projection and embedding weights are held ({@code model.dtype}). */
    public WeightStorage storage() {
        return storage;
    }

    /** A frozen tensor by its Hugging Face name, as stored (tests compare it with independently rounded values). */
    NDArray frozenTensor(String name) {
        if (name.equals(HfNames.EMBED)) {
            return embed;
        }
        if (name.equals(HfNames.LM_HEAD)) {
            return lmHead;
        }
        if (name.equals(HfNames.FINAL_NORM)) {
            return finalNorm;
        }
        for (LayerWeights w : layers) {
            for (Proj p : Proj.values()) {
                if (name.equals(HfNames.weight(w.index(), p))) {
                    return w.proj()[p.ordinal()];
                }
            }
        }
        throw new IllegalArgumentException("no frozen projection or embedding named " + name);
    }

    @Override
    public void close() {
        manager.close();
    }
}
