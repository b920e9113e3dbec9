package dev.paft.report;

import dev.paft.errors.PaftException;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.TensorInfo;
import dev.paft.io.TensorStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An opened, validated input: its modules (from the safetensors headers only) and the per-module
 * delta statistics, read one module at a time.
 */
abstract class DeltaSource implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DeltaSource.class);

    /** A module and its delta shape [rows, cols]. */
    record Module(String name, int rows, int cols) {}

    abstract List<Module> modules();

    @Override
    public abstract void close();

    abstract InputReport.Kind kind();

    /** {@code alpha / r} for adapters, 1 for model deltas. */
    abstract double scaling();

    abstract int rank();

    abstract double alpha();

    /** Statistics of the module's unscaled delta. */
    abstract DeltaKernel.Acc stats(Module m, float[] cutoffs, boolean histogram, ExecutorService pool);

    /** Opens an input: an adapter when the directory has adapter_config.json, else a model against its base. */
    static DeltaSource open(ReportInput in) {
        if (!Files.isDirectory(in.dir())) {
            throw PaftException.badInput(in.dir() + ": not a directory");
        }
        if (PeftAdapter.isAdapterDir(in.dir())) {
            return new Adapter(in.dir());
        }
        if (in.base() == null) {
            throw PaftException.badInput(in.dir() + ": not a PEFT adapter (no " + PeftAdapter.CONFIG_FILE
                    + "); to report a full model's delta, give its base with --base DIR");
        }
        return new ModelDelta(in.dir(), in.base());
    }

    /** A PEFT LoRA adapter: delta = B @ A per module. */
    static final class Adapter extends DeltaSource {
        private final PeftAdapterConfig config;
        private final TensorStore store;
        private final List<Module> modules = new ArrayList<>();

        Adapter(Path dir) {
            this.config = PeftAdapterConfig.read(dir);
            this.store = TensorStore.open(dir, "adapter_model");
            try {
                for (String key : store.names()) {
                    if (!key.endsWith(".lora_A.weight") && !key.endsWith(".lora_B.weight")) {
                        LOG.warn("{}: skipping non-LoRA tensor '{}'", dir, key);
                    } else if (key.endsWith(".lora_B.weight")) {
                        String module = key.substring(
                                PeftAdapter.KEY_PREFIX.length(), key.length() - ".lora_B.weight".length());
                        if (!store.contains(PeftAdapter.key(module, "A"))) {
                            throw PaftException.badInput(dir + ": '" + key + "' has no matching lora_A");
                        }
                    }
                }
                for (String module : PeftAdapter.moduleNames(store)) {
                    TensorInfo a = store.info(PeftAdapter.key(module, "A"));
                    TensorInfo b = store.info(PeftAdapter.key(module, "B"));
                    int r = config.rank(module);
                    if (a.shape().length != 2 || b.shape().length != 2 || a.shape()[0] != r || b.shape()[1] != r) {
                        throw PaftException.badInput(
                                dir + ": module '" + module + "': lora_A " + Arrays.toString(a.shape()) + " and lora_B "
                                        + Arrays.toString(b.shape()) + " do not fit r = " + r);
                    }
                    if (config.scaling(module) != config.scaling()) {
                        throw PaftException.badInput(
                                dir + ": module '" + module + "' has its own scaling (rank_pattern / alpha_pattern "
                                        + "with a different alpha / r), which the sparsity report does not support");
                    }
                    modules.add(new Module(module, (int) b.shape()[0], (int) a.shape()[1]));
                }
                if (modules.isEmpty()) {
                    throw PaftException.badInput(dir + ": adapter holds no LoRA tensors");
                }
            } catch (RuntimeException e) {
                store.close();
                throw e;
            }
        }

        @Override
        List<Module> modules() {
            return modules;
        }

        @Override
        InputReport.Kind kind() {
            return InputReport.Kind.ADAPTER;
        }

        @Override
        double scaling() {
            return config.scaling();
        }

        @Override
        int rank() {
            return config.r();
        }

        @Override
        double alpha() {
            return config.loraAlpha();
        }

        @Override
        DeltaKernel.Acc stats(Module m, float[] cutoffs, boolean histogram, ExecutorService pool) {
            float[] a = store.readFloats(PeftAdapter.key(m.name(), "A")); // [r, in]
            float[] b = store.readFloats(PeftAdapter.key(m.name(), "B")); // [out, r]
            return DeltaKernel.lora(a, b, m.rows(), config.rank(m.name()), m.cols(), cutoffs, histogram, pool);
        }

        @Override
        public void close() {
            store.close();
        }
    }

    /** A full model against its base: delta = model - base per 2-D weight of {@code layers.N}. */
    static final class ModelDelta extends DeltaSource {
        private final TensorStore model;
        private final TensorStore base;
        private final List<Module> modules = new ArrayList<>();

        ModelDelta(Path dir, Path baseDir) {
            this.model = TensorStore.openModel(dir);
            TensorStore b = null;
            try {
                b = TensorStore.openModel(baseDir);
                this.base = b;
                for (String name : model.names()) {
                    TensorInfo t = model.info(name);
                    if (!name.endsWith(".weight")
                            || t.shape().length != 2
                            || ModuleNames.layer(name) < 0
                            || !t.dtype().isFloat()) {
                        continue;
                    }
                    if (!base.contains(name)) {
                        throw PaftException.badInput(
                                baseDir + ": base has no tensor '" + name + "' (present in " + dir + ")");
                    }
                    TensorInfo bt = base.info(name);
                    if (!Arrays.equals(t.shape(), bt.shape()) || !bt.dtype().isFloat()) {
                        throw PaftException.badInput(
                                dir + ": tensor '" + name + "' is " + t.dtype() + " " + Arrays.toString(t.shape())
                                        + " but the base's is " + bt.dtype() + " " + Arrays.toString(bt.shape()));
                    }
                    modules.add(
                            new Module(name.substring(0, name.length() - ".weight".length()), (int) t.shape()[0], (int)
                                    t.shape()[1]));
                }
                for (String name : base.names()) { // and the other way: a base weight the model lacks is not skipped
                    TensorInfo t = base.info(name);
                    if (name.endsWith(".weight")
                            && t.shape().length == 2
                            && ModuleNames.layer(name) >= 0
                            && t.dtype().isFloat()
                            && !model.contains(name)) {
                        throw PaftException.badInput(
                                dir + ": model has no tensor '" + name + "' (present in the base " + baseDir + ")");
                    }
                }
                if (modules.isEmpty()) {
                    throw PaftException.badInput(dir + ": no 2-D weights under 'layers.N.' to compare with the base");
                }
            } catch (RuntimeException e) {
                model.close();
                if (b != null) {
                    b.close();
                }
                throw e;
            }
        }

        @Override
        List<Module> modules() {
            return modules;
        }

        @Override
        InputReport.Kind kind() {
            return InputReport.Kind.MODEL_DELTA;
        }

        @Override
        double scaling() {
            return 1;
        }

        @Override
        int rank() {
            return 0;
        }

        @Override
        double alpha() {
            return 0;
        }

        @Override
        DeltaKernel.Acc stats(Module m, float[] cutoffs, boolean histogram, ExecutorService pool) {
            String name = m.name() + ".weight";
            return DeltaKernel.diff(
                    model.bytes(name),
                    model.info(name).dtype(),
                    base.bytes(name),
                    base.info(name).dtype(),
                    (long) m.rows() * m.cols(),
                    cutoffs,
                    histogram,
                    pool);
        }

        @Override
        public void close() {
            model.close();
            base.close();
        }
    }
}
