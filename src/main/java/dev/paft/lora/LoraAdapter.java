package dev.paft.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.config.LoraConfig;
import dev.paft.engine.GradMode;
import dev.paft.engine.Torch;
import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.FiniteWeights;
import dev.paft.io.FloatTensor;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.PeftTargets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A set of LoRA factors over a base model: per module key {@code A} [r, in] and {@code B} [out, r],
 * float32, requiring gradients, on the adapter's own manager. The delta of a module is
 * {@code scaling * B @ A} with {@code scaling = alpha / r} (rsLoRA: {@code alpha / sqrt(r)}).
 *
 * <p>{@link #setEnabled(boolean) Disabled}, the model computes the pure base: the DPO reference with no
 * second copy of the weights. The base model's module keys and shapes come from the model
 * ({@code HfNames.loraModules}), so this class knows no checkpoint names.
 */
public final class LoraAdapter implements AutoCloseable {
    private final NDManager manager;
    private final PeftAdapterConfig config;
    private final Map<String, LoraModule> modules;
    private final NDArray scaling;
    private volatile boolean enabled = true;
    private volatile boolean dropoutDisabled;

    private LoraAdapter(NDManager manager, PeftAdapterConfig config, Map<String, LoraModule> modules) {
        this.manager = manager;
        this.config = config;
        this.modules = Collections.unmodifiableMap(modules);
        this.scaling = manager.full(new Shape(), (float) config.scaling());
    }

    /**
     * A fresh adapter, PEFT's init: {@code A ~ U(-1/sqrt(in), 1/sqrt(in))} (Kaiming-uniform with
     * a = sqrt 5, as nn.Linear), {@code B = 0}, so the adapted model equals the base. Values come from a
     * {@link SplittableRandom} seeded with {@code seed}, module by module in key order: the same seed
     * gives bit-identical factors on every run and machine.
     *
     * @param baseShapes adaptable module key -> base weight shape [out, in] (already restricted to the targets)
     */
    public static LoraAdapter create(
            Map<String, long[]> baseShapes, LoraConfig cfg, long seed, String baseModel, NDManager parent) {
        if (baseShapes.isEmpty()) {
            throw PaftException.usage(
                    "lora.target_modules " + cfg.targetModules() + " selects no module of the base model");
        }
        NDManager m = parent.newSubManager();
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, LoraModule> mods = new LinkedHashMap<>();
        int r = cfg.r();
        for (var e : baseShapes.entrySet()) {
            long out = e.getValue()[0];
            long in = e.getValue()[1];
            float[] a = new float[Math.toIntExact(r * in)];
            double bound = 1.0 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            }
            mods.put(
                    e.getKey(),
                    new LoraModule(
                            e.getKey(),
                            param(m, a, new Shape(r, in)),
                            param(m, new float[Math.toIntExact(out * r)], new Shape(out, r))));
        }
        var pc = new PeftAdapterConfig(
                r, cfg.alpha(), cfg.dropout(), List.copyOf(cfg.targetModules()), cfg.useRslora(), baseModel);
        return new LoraAdapter(m, pc, mods);
    }

    /**
     * Loads a PEFT adapter directory, checking it fits the base: every module must be one of
     * {@code adaptable} (module key -> base shape [out, in]) and named by {@code target_modules} under
     * PEFT's rule ({@link PeftTargets}); A must be
     * [r, in] and B [out, r]. Misfits are bad input (exit 3) naming the tensor.
     */
    public static LoraAdapter load(Path dir, Map<String, long[]> adaptable, NDManager parent) {
        PeftAdapter peft = PeftAdapter.read(dir);
        PeftAdapterConfig cfg = peft.config();
        for (var e : peft.modules().entrySet()) {
            String key = e.getKey();
            String ka = PeftAdapter.key(key, "A");
            long[] base = adaptable.get(key);
            if (base == null) {
                throw PaftException.badInput(dir + ": adapter tensor '" + ka + "' names module '" + key
                        + "' which the base model does not have (or paft cannot adapt)");
            }
            if (!cfg.targetModules().isEmpty() && !PeftTargets.matches(cfg.targetModules(), key)) {
                throw PaftException.badInput(dir + ": adapter tensor '" + ka + "' adapts '" + key
                        + "' which target_modules " + cfg.targetModules() + " does not name (PEFT's rule: the module"
                        + " name equals an entry or ends with '.' + entry)");
            }
            long[] sa = e.getValue().a().shape();
            long[] sb = e.getValue().b().shape();
            if (sa[1] != base[1]) {
                throw PaftException.badInput(dir + ": adapter tensor '" + ka + "' has shape " + Arrays.toString(sa)
                        + " but the base module takes " + base[1] + " inputs (expected [" + cfg.rank(key) + ", "
                        + base[1] + "])");
            }
            if (sb[0] != base[0]) {
                throw PaftException.badInput(dir + ": adapter tensor '" + PeftAdapter.key(key, "B") + "' has shape "
                        + Arrays.toString(sb) + " but the base module has " + base[0] + " outputs (expected ["
                        + base[0] + ", " + cfg.rank(key) + "])");
            }
            if (cfg.scaling(key) != cfg.scaling()) {
                // one scaling per adapter (a scalar tensor in the forward pass); rank_pattern /
                // alpha_pattern with alpha / r the same for every module (as paft merge --lora-out
                // writes) load, others do not
                throw PaftException.badInput(
                        dir + ": module '" + key + "' has scaling " + cfg.scaling(key) + " (rank "
                                + cfg.rank(key) + ", alpha " + cfg.alpha(key) + ") but the adapter's is "
                                + cfg.scaling()
                                + "; paft applies one scaling to all modules (rank_pattern / alpha_pattern must keep alpha / r the same)");
            }
        }
        NDManager m = parent.newSubManager();
        Map<String, LoraModule> mods = new LinkedHashMap<>();
        // keep the base model's module order, whatever the file order
        for (String key : adaptable.keySet()) {
            PeftAdapter.LoraPair p = peft.modules().get(key);
            if (p != null) {
                FiniteWeights.require(p.a().data(), dir, PeftAdapter.key(key, "A"), "adapter");
                FiniteWeights.require(p.b().data(), dir, PeftAdapter.key(key, "B"), "adapter");
                mods.put(
                        key,
                        new LoraModule(
                                key,
                                param(m, p.a().data(), new Shape(p.a().shape())),
                                param(m, p.b().data(), new Shape(p.b().shape()))));
            }
        }
        return new LoraAdapter(m, cfg, mods);
    }

    private static NDArray param(NDManager m, float[] data, Shape shape) {
        NDArray x = m.create(data, shape);
        x.setRequiresGradient(true);
        return x;
    }

    /** The adapter as PEFT factors (copies to Java memory). */
    public PeftAdapter toPeft() {
        Map<String, PeftAdapter.LoraPair> out = new LinkedHashMap<>();
        for (LoraModule mod : modules.values()) {
            out.put(mod.key(), new PeftAdapter.LoraPair(toTensor(mod.a()), toTensor(mod.b())));
        }
        return new PeftAdapter(config, out);
    }

    private static FloatTensor toTensor(NDArray x) {
        return new FloatTensor(x.getShape().getShape(), x.toFloatArray());
    }

    /** Writes a PEFT adapter directory (float32 factors) that HF PEFT loads unchanged. */
    public void save(Path dir, Map<String, String> metadata) {
        toPeft().write(dir, DType.F32, metadata);
    }

    /** The module's factors, or null when the module is not adapted or the adapter is disabled. */
    public LoraModule module(String key) {
        return enabled ? modules.get(key) : null;
    }

    /** All modules in base-model order (regardless of {@link #isEnabled()}). */
    public Map<String, LoraModule> modules() {
        return modules;
    }

    /** The trainable parameters, A then B per module, in module order. */
    public List<NDArray> parameters() {
        List<NDArray> ps = new ArrayList<>(modules.size() * 2);
        for (LoraModule mod : modules.values()) {
            ps.add(mod.a());
            ps.add(mod.b());
        }
        return ps;
    }

    /** PEFT on-disk keys of {@link #parameters()}, same order. */
    public List<String> parameterNames() {
        List<String> ns = new ArrayList<>(modules.size() * 2);
        for (String key : modules.keySet()) {
            ns.add(PeftAdapter.key(key, "A"));
            ns.add(PeftAdapter.key(key, "B"));
        }
        return ns;
    }

    /** Zeroes accumulated gradients of every parameter. */
    public void zeroGradients() {
        for (NDArray p : parameters()) {
            Torch.zeroGrad(p);
        }
    }

    /** {@code scaling * B @ A} [out, in] of one module, on {@code scope}, without gradient. */
    public NDArray delta(NDManager scope, String key) {
        LoraModule mod = modules.get(key);
        if (mod == null) {
            throw new IllegalArgumentException("no LoRA module " + key);
        }
        try (GradMode off = GradMode.off()) {
            NDArray ba = mod.b().matMul(mod.a()); // [out, in], on the adapter's manager
            ba.attach(scope);
            return ba.mul(scaling); // PEFT's order: (B @ A) * scaling
        }
    }

    public PeftAdapterConfig config() {
        return config;
    }

    public double scaling() {
        return config.scaling();
    }

    /** {@link #scaling()} as a float32 scalar tensor on the adapter's manager. */
    public NDArray scalingTensor() {
        return scaling;
    }

    /** The LoRA dropout rate the forward pass uses: the configured one, or 0 after {@link #disableDropout()}. */
    public float dropout() {
        return dropoutDisabled ? 0f : (float) config.loraDropout();
    }

    /**
     * Turns LoRA dropout off for this adapter's forward passes, as TRL's {@code disable_dropout=True}
     * does for preference training (it sets every {@code nn.Dropout}'s {@code p} to 0, PEFT's
     * {@code lora_dropout} modules included). The configured rate stays in {@link #config()}, so a saved
     * {@code adapter_config.json} keeps {@code lora_dropout} as configured, as a TRL-trained adapter does.
     */
    public void disableDropout() {
        this.dropoutDisabled = true;
    }

    public boolean isEnabled() {
        return enabled;
    }

    /** Disabled, {@link #module} answers null everywhere: the model runs as the pure base. */
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public NDManager manager() {
        return manager;
    }

    @Override
    public void close() {
        manager.close();
    }
}
