package dev.paft.io;

import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A PEFT LoRA adapter directory: {@code adapter_config.json} plus {@code adapter_model.safetensors}
 * holding, per adapted module, {@code A} of shape [r, in] and {@code B} of shape [out, r].
 *
 * <p>On disk a module {@code model.layers.0.self_attn.q_proj} is stored under
 * {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight} (and {@code lora_B}).
 * Here modules are keyed by their base weight prefix ({@code model.layers.0.self_attn.q_proj}), so
 * {@code prefix + ".weight"} names the base tensor the delta {@code scaling * B @ A} applies to.
 */
public record PeftAdapter(PeftAdapterConfig config, Map<String, LoraPair> modules) {
    public static final String KEY_PREFIX = "base_model.model.";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    public static final String CONFIG_FILE = "adapter_config.json";

    /** One module's factors: A [r, in], B [out, r]. */
    public record LoraPair(FloatTensor a, FloatTensor b) {}

    /** True if the directory looks like a PEFT adapter. */
    public static boolean isAdapterDir(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG_FILE));
    }

    /** Module prefixes of the adapter in file order, without reading any tensor data. */
    public static List<String> moduleNames(TensorStore store) {
        List<String> out = new ArrayList<>();
        for (String key : store.names()) {
            if (key.endsWith(".lora_A.weight")) {
                out.add(moduleOf(key, store.dir()));
            }
        }
        return out;
    }

    /** The on-disk key of a module's factor ("A" or "B"). */
    public static String key(String module, String factor) {
        return KEY_PREFIX + module + ".lora_" + factor + ".weight";
    }

    private static String moduleOf(String key, Path where) {
        int cut = key.lastIndexOf(".lora_");
        if (!key.startsWith(KEY_PREFIX) || cut <= KEY_PREFIX.length()) {
            throw PaftException.badInput(where + ": adapter tensor '" + key + "' is not named '" + KEY_PREFIX
                    + "<module>.lora_A.weight' / '.lora_B.weight'");
        }
        return key.substring(KEY_PREFIX.length(), cut);
    }

    /** Reads config and all factors, checking that every A has its B and shapes agree on r. */
    public static PeftAdapter read(Path dir) {
        PeftAdapterConfig cfg = PeftAdapterConfig.read(dir);
        try (TensorStore store = TensorStore.open(dir, "adapter_model")) {
            Map<String, LoraPair> modules = new LinkedHashMap<>();
            for (String key : store.names()) {
                if (!key.endsWith(".lora_A.weight") && !key.endsWith(".lora_B.weight")) {
                    throw PaftException.badInput(dir + ": unexpected adapter tensor '" + key
                            + "' (only lora_A / lora_B weights are supported; no modules_to_save, biases or DoRA)");
                }
            }
            for (String module : moduleNames(store)) {
                String ka = key(module, "A");
                String kb = key(module, "B");
                if (!store.contains(kb)) {
                    throw PaftException.badInput(dir + ": '" + ka + "' has no matching '" + kb + "'");
                }
                for (String k : List.of(ka, kb)) {
                    if (!store.info(k).dtype().isFloat()) {
                        throw PaftException.badInput(dir + ": adapter tensor '" + k + "' has dtype "
                                + store.info(k).dtype() + "; LoRA factors must be F32, F16, BF16 or F64");
                    }
                }
                FloatTensor a = store.read(ka);
                FloatTensor b = store.read(kb);
                checkPair(dir, module, a, b, cfg.rank(module));
                modules.put(module, new LoraPair(a, b));
            }
            for (String key : store.names()) {
                if (key.endsWith(".lora_B.weight") && !modules.containsKey(moduleOf(key, dir))) {
                    throw PaftException.badInput(dir + ": '" + key + "' has no matching lora_A");
                }
            }
            if (modules.isEmpty()) {
                throw PaftException.badInput(dir + ": adapter holds no LoRA tensors");
            }
            return new PeftAdapter(cfg, modules);
        }
    }

    static void checkPair(Path dir, String module, FloatTensor a, FloatTensor b, int r) {
        if (a.shape().length != 2 || b.shape().length != 2 || a.dim(0) != r || b.dim(1) != r) {
            throw PaftException.badInput(dir + ": module '" + module + "': lora_A " + Arrays.toString(a.shape())
                    + " and lora_B " + Arrays.toString(b.shape()) + " do not fit r = " + r);
        }
    }

    /**
     * Writes the adapter directory in PEFT's layout (float32 factors unless a dtype is given):
     * {@code adapter_model.safetensors} with {@code __metadata__ {"format": "pt"}} and
     * {@code adapter_config.json} formatted as PEFT's {@code save_pretrained} writes it.
     */
    public void write(Path dir, DType dtype, Map<String, String> metadata) {
        if (dtype == null) {
            dtype = DType.F32;
        }
        if (!dtype.isFloat()) {
            throw new IllegalArgumentException("adapter factors must be written as a float dtype, not " + dtype);
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw PaftException.io("create", dir, e);
        }
        Map<String, FloatTensor> tensors = new LinkedHashMap<>();
        modules.forEach((m, p) -> {
            tensors.put(key(m, "A"), p.a());
            tensors.put(key(m, "B"), p.b());
        });
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        if (metadata != null) {
            meta.putAll(metadata);
        }
        SafetensorsWriter.writeAll(dir.resolve(WEIGHTS_FILE), tensors, dtype, meta);
        Json.writePython(dir.resolve(CONFIG_FILE), config.toJson(), true, false);
    }

    /**
     * The delta {@code scale * B @ A} of one module, [out, in], computed in float32 (row-major,
     * accumulated in float like a float32 matmul).
     */
    public static float[] delta(LoraPair p, double scale) {
        int out = p.b().dim(0);
        int r = p.b().dim(1);
        int in = p.a().dim(1);
        float[] a = p.a().data();
        float[] b = p.b().data();
        float[] d = new float[out * in];
        float s = (float) scale;
        for (int i = 0; i < out; i++) {
            int row = i * in;
            for (int k = 0; k < r; k++) {
                float bik = b[i * r + k];
                if (bik == 0f) {
                    continue;
                }
                int ak = k * in;
                for (int j = 0; j < in; j++) {
                    d[row + j] += bik * a[ak + j];
                }
            }
            if (s != 1f) {
                for (int j = 0; j < in; j++) {
                    d[row + j] *= s; // (B @ A) * scaling, in PEFT's order
                }
            }
        }
        return d;
    }
}
