package dev.paft.merge;

import dev.paft.errors.PaftException;
import dev.paft.io.FloatTensor;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.TensorInfo;
import dev.paft.io.TensorStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * One merge input, read lazily tensor by tensor: a full HF model ({@code d = model - base}), a
 * PEFT LoRA adapter ({@code d = scaling * B @ A} on its target modules, 0 elsewhere), or mergekit's
 * {@code MODEL+LORA}: a model with an adapter applied ({@code MODEL + scaling * B @ A}, what
 * mergekit gets from PEFT's {@code merge_and_unload}; mergekit/common.py {@code ModelReference}).
 */
public sealed interface MergeSource extends AutoCloseable {
    Path dir();

    /** Checks names and shapes against the reference store (the base); exit 3 on a mismatch. */
    void validateAgainst(TensorStore ref);

    /**
     * As {@link #validateAgainst(TensorStore)}, where the tensors in {@code rowsMayDiffer} (the
     * embeddings of a tokenizer merge) may have another number of rows.
     */
    default void validateAgainst(TensorStore ref, Set<String> rowsMayDiffer) {
        validateAgainst(ref);
    }

    /** The task vector of one tensor; {@code base} is not modified. */
    float[] delta(String name, float[] base);

    /** As {@link #delta(String, float[])}, the result possibly in an array from {@code pool}. */
    default float[] delta(String name, float[] base, FloatPool pool) {
        return delta(name, base);
    }

    /** As {@link #model(String, float[])}, the result possibly in an array from {@code pool}. */
    default float[] model(String name, float[] base, FloatPool pool) {
        return model(name, base);
    }

    /** The whole tensor of this model ({@code base + d} for an adapter); {@code base} is not modified. */
    float[] model(String name, float[] base);

    @Override
    void close();

    /** A model reference: a directory, or {@code model+lora} (lora non-null). */
    record Ref(Path model, Path lora) {
        /** As written in metadata and merge_config.yaml: absolute paths, {@code MODEL+LORA}. */
        public String display() {
            String m = model.toAbsolutePath().normalize().toString();
            return lora == null ? m : m + "+" + lora.toAbsolutePath().normalize();
        }

        /** The same model (and the same adapter, or none on both). */
        boolean sameAs(Ref o) {
            return o != null
                    && MergePlan.samePath(model, o.model)
                    && (lora == null ? o.lora == null : o.lora != null && MergePlan.samePath(lora, o.lora));
        }
    }

    /** Opens a reference: {@link #open(Path)}, or a model with an adapter applied. */
    static MergeSource open(Ref ref) {
        if (ref.lora() == null) {
            return open(ref.model());
        }
        return LoraApplied.open(ref);
    }

    /** Opens a directory as an adapter (has adapter_config.json) or a model. */
    static MergeSource open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw PaftException.badInput(
                    dir + ": input not found (paft merge reads local directories; download models first)");
        }
        return PeftAdapter.isAdapterDir(dir) ? Adapter.open(dir) : new FullModel(dir, TensorStore.openModel(dir));
    }

    /** A full model directory. */
    record FullModel(Path dir, TensorStore store) implements MergeSource {
        @Override
        public void validateAgainst(TensorStore ref) {
            validateAgainst(ref, Set.of());
        }

        @Override
        public void validateAgainst(TensorStore ref, Set<String> rowsMayDiffer) {
            Set<String> mine = new LinkedHashSet<>(store.names());
            for (String n : ref.names()) {
                if (!mine.contains(n)) {
                    throw PaftException.badInput(dir + ": missing tensor '" + n + "' that " + ref.dir() + " has");
                }
                TensorInfo a = ref.info(n);
                TensorInfo b = store.info(n);
                boolean rowsOnly = rowsMayDiffer.contains(n)
                        && a.shape().length == 2
                        && b.shape().length == 2
                        && a.shape()[1] == b.shape()[1];
                if (!rowsOnly && !Arrays.equals(a.shape(), b.shape())) {
                    throw PaftException.badInput(dir + ": tensor '" + n + "' has shape " + b.shapeString() + " but "
                            + ref.dir() + " has " + a.shapeString());
                }
            }
            mine.removeAll(ref.names());
            if (!mine.isEmpty()) {
                throw PaftException.badInput(
                        dir + ": tensor '" + mine.iterator().next() + "' is not in " + ref.dir() + " (" + mine.size()
                                + " extra tensors; models must have the same architecture)");
            }
        }

        @Override
        public float[] delta(String name, float[] base) {
            float[] m = store.readFloats(name);
            for (int j = 0; j < m.length; j++) {
                m[j] -= base[j];
            }
            return m;
        }

        @Override
        public float[] model(String name, float[] base) {
            return store.readFloats(name);
        }

        @Override
        public float[] delta(String name, float[] base, FloatPool pool) {
            float[] m = pool.get(base.length);
            store.readFloats(name, m, base); // m - base, widened and subtracted in one pass
            return m;
        }

        @Override
        public float[] model(String name, float[] base, FloatPool pool) {
            float[] m = pool.get((int) store.info(name).numel());
            store.readFloats(name, m, null);
            return m;
        }

        @Override
        public void close() {
            store.close();
        }
    }

    /** A PEFT LoRA adapter directory; modules are keyed by their base weight prefix. */
    record Adapter(Path dir, TensorStore store, PeftAdapterConfig config, Set<String> modules) implements MergeSource {
        static Adapter open(Path dir) {
            PeftAdapterConfig cfg = PeftAdapterConfig.read(dir);
            TensorStore store = TensorStore.open(dir, "adapter_model");
            try {
                for (String key : store.names()) {
                    if (!key.endsWith(".lora_A.weight") && !key.endsWith(".lora_B.weight")) {
                        throw PaftException.badInput(dir + ": unexpected adapter tensor '" + key
                                + "' (only lora_A / lora_B weights are supported; no modules_to_save, biases or DoRA)");
                    }
                }
                Set<String> modules = new LinkedHashSet<>(PeftAdapter.moduleNames(store));
                for (String key : store.names()) {
                    if (key.endsWith(".lora_B.weight")) {
                        String module = key.substring(PeftAdapter.KEY_PREFIX.length(), key.lastIndexOf(".lora_"));
                        if (!modules.contains(module)) {
                            throw PaftException.badInput(dir + ": '" + key + "' has no matching lora_A");
                        }
                    }
                }
                for (String m : modules) {
                    if (!store.contains(PeftAdapter.key(m, "B"))) {
                        throw PaftException.badInput(
                                dir + ": '" + PeftAdapter.key(m, "A") + "' has no matching lora_B");
                    }
                }
                if (modules.isEmpty()) {
                    throw PaftException.badInput(dir + ": adapter holds no LoRA tensors");
                }
                return new Adapter(dir, store, cfg, modules);
            } catch (RuntimeException e) {
                store.close();
                throw e;
            }
        }

        @Override
        public void validateAgainst(TensorStore ref) {
            for (String m : modules) {
                int r = config.rank(m);
                String target = m + ".weight";
                if (!ref.contains(target)) {
                    throw PaftException.badInput(dir + ": adapter module '" + m + "' targets '" + target
                            + "' which the base " + ref.dir() + " does not have");
                }
                long[] w = ref.info(target).shape();
                long[] a = store.info(PeftAdapter.key(m, "A")).shape();
                long[] b = store.info(PeftAdapter.key(m, "B")).shape();
                if (w.length != 2
                        || a.length != 2
                        || b.length != 2
                        || a[0] != r
                        || b[1] != r
                        || b[0] != w[0]
                        || a[1] != w[1]) {
                    throw PaftException.badInput(dir + ": module '" + m + "': lora_A " + Arrays.toString(a)
                            + " and lora_B " + Arrays.toString(b) + " do not fit r = " + r + " and the base weight "
                            + Arrays.toString(w));
                }
            }
        }

        @Override
        public float[] delta(String name, float[] base) {
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : null;
            if (module == null || !modules.contains(module)) {
                return new float[base.length]; // not adapted: the task vector is 0
            }
            FloatTensor a = store.read(PeftAdapter.key(module, "A"));
            FloatTensor b = store.read(PeftAdapter.key(module, "B"));
            return PeftAdapter.delta(new PeftAdapter.LoraPair(a, b), config.scaling(module));
        }

        @Override
        public float[] model(String name, float[] base) {
            float[] d = delta(name, base);
            for (int j = 0; j < d.length; j++) {
                d[j] += base[j];
            }
            return d;
        }

        /** Adds this adapter's {@code scaling * B @ A} to {@code target} when it adapts {@code name}; false when not. */
        boolean addDeltaTo(String name, float[] target) {
            String module = name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : null;
            if (module == null || !modules.contains(module)) {
                return false;
            }
            float[] d = PeftAdapter.delta(
                    new PeftAdapter.LoraPair(
                            store.read(PeftAdapter.key(module, "A")), store.read(PeftAdapter.key(module, "B"))),
                    config.scaling(module));
            for (int j = 0; j < d.length; j++) {
                target[j] += d[j];
            }
            return true;
        }

        @Override
        public void close() {
            store.close();
        }
    }

    /**
     * mergekit's {@code MODEL+LORA}: the model with the adapter merged in, {@code W + scaling * B @ A}
     * in float32, then used as a whole model (its task vector is {@code (W + scaling * B @ A) - base},
     * in that order, as mergekit computes it from the merged copy it writes first). paft streams it:
     * no merged copy is written.
     */
    record LoraApplied(Path dir, FullModel model, Adapter lora, String label) implements MergeSource {
        static LoraApplied open(Ref ref) {
            if (!Files.isDirectory(ref.model())) {
                throw PaftException.badInput(ref.model() + ": model of '" + ref.display()
                        + "' not found (MODEL+LORA: a model directory, '+', a PEFT adapter directory)");
            }
            if (PeftAdapter.isAdapterDir(ref.model())) {
                throw PaftException.badInput(ref.model()
                        + ": is a PEFT adapter, but in MODEL+LORA the part before '+' must be a model directory");
            }
            if (!Files.isDirectory(ref.lora()) || !PeftAdapter.isAdapterDir(ref.lora())) {
                throw PaftException.badInput(
                        ref.lora()
                                + ": not a PEFT adapter directory (no adapter_config.json); in MODEL+LORA the part after '+' must be one");
            }
            FullModel m = new FullModel(ref.model(), TensorStore.openModel(ref.model()));
            try {
                Adapter a = Adapter.open(ref.lora());
                try {
                    a.validateAgainst(m.store());
                } catch (RuntimeException e) {
                    a.close();
                    throw e;
                }
                return new LoraApplied(ref.model(), m, a, ref.display());
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        @Override
        public void validateAgainst(TensorStore ref) {
            model.validateAgainst(ref);
        }

        @Override
        public void validateAgainst(TensorStore ref, Set<String> rowsMayDiffer) {
            model.validateAgainst(ref, rowsMayDiffer);
        }

        @Override
        public float[] delta(String name, float[] base) {
            float[] m = model(name, base);
            for (int j = 0; j < m.length; j++) {
                m[j] -= base[j];
            }
            return m;
        }

        @Override
        public float[] model(String name, float[] base) {
            float[] m = model.model(name, base);
            lora.addDeltaTo(name, m);
            return m;
        }

        @Override
        public float[] delta(String name, float[] base, FloatPool pool) {
            float[] m = model(name, base, pool);
            for (int j = 0; j < m.length; j++) {
                m[j] -= base[j];
            }
            return m;
        }

        @Override
        public float[] model(String name, float[] base, FloatPool pool) {
            float[] m = model.model(name, base, pool);
            lora.addDeltaTo(name, m);
            return m;
        }

        @Override
        public void close() {
            try {
                lora.close();
            } finally {
                model.close();
            }
        }
    }
}
