package dev.paft.cli;

import dev.paft.config.PaftConfig;
import dev.paft.errors.PaftException;
import dev.paft.io.OutputDirs;
import dev.paft.io.OutputLock;
import dev.paft.merge.LoraMerge;
import dev.paft.merge.MergeMethods;
import dev.paft.merge.MergeRunner;
import dev.paft.merge.MergeSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code paft merge}: merges adapters or models into a base with mergekit's methods and
 * semantics. Three ways in: a paft config ({@code merge:} section) or a mergekit YAML via
 * {@code --config FILE} (or positionally, {@code paft merge FILE OUT} as with mergekit-yaml), and
 * flags for the simple case. Flags win over the file.
 */
@Command(
        name = "merge",
        mixinStandardHelpOptions = true,
        description = {
            "Merge adapters or models into a base with mergekit's methods (linear, slerp, nuslerp, multislerp, karcher, task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della, della_linear, sce, model_stock, nearswap, arcee_fusion, ram, ramplus_tl, passthrough).",
            "",
            "  paft merge --config configs/merge/ties.yaml --out runs/merged",
            "  paft merge mergekit.yml runs/merged                      # mergekit YAML, as mergekit-yaml",
            "  paft merge --base BASE --method ties --model runs/sft:weight=0.5,density=0.5 \\",
            "             --model runs/dpo:weight=0.5,density=0.5 --out runs/merged",
            "  paft merge --base BASE --method task_arithmetic --model runs/sft --model runs/dpo --lora-out runs/merged-lora",
            ""
        })
public final class MergeCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Parameters(
            index = "0",
            arity = "0..1",
            paramLabel = "CONFIG",
            description = "Config file (paft or mergekit YAML), like --config.")
    Path positionalConfig;

    @Parameters(index = "1", arity = "0..1", paramLabel = "OUT", description = "Output directory, like --out.")
    Path positionalOut;

    @Option(
            names = {"-o", "--output-dir", "--out"},
            paramLabel = "DIR",
            description = "Output model directory.")
    Path out;

    @Option(names = "--base", paramLabel = "DIR", description = "Base model directory.")
    String base;

    @Option(names = "--method", paramLabel = "NAME", description = "Merge method (mergekit name).")
    String method;

    @Option(
            names = "--model",
            paramLabel = "DIR[:k=v,...]",
            description =
                    "An input (model or PEFT adapter dir, or MODEL+LORA) with parameters, e.g. runs/sft:weight=0.5,density=0.5 (repeatable; replaces the file's models).")
    List<String> models = new ArrayList<>();

    @Option(
            names = {"-p", "--param"},
            paramLabel = "KEY=VALUE",
            description =
                    "A global parameter, e.g. --param lambda=1.0 --param normalize=false --param rescale=l1 (repeatable).")
    List<String> params = new ArrayList<>();

    @Option(
            names = "--dtype",
            paramLabel = "DT",
            description = "mergekit's dtype (math is float32; also the output dtype when --out-dtype is not given).")
    String dtype;

    @Option(
            names = "--out-dtype",
            paramLabel = "DT",
            description = "Output dtype: bf16, f16 or f32 (default: the base's).")
    String outDtype;

    @Option(names = "--shard-size", paramLabel = "SIZE", description = "Output shard size (default 5GB).")
    String shardSize;

    @Option(
            names = "--lora-out",
            paramLabel = "DIR",
            description =
                    "Write the merged delta as one PEFT LoRA adapter (every input a LoRA adapter on the base) instead of a model.")
    Path loraOut;

    @Option(
            names = "--lora-rank",
            paramLabel = "N",
            description =
                    "With --lora-out: rank per matrix (default: the sum of the input ranks, exact for linear/task_arithmetic); a cap with --lora-error.")
    Integer loraRank;

    @Option(
            names = "--lora-error",
            paramLabel = "E",
            description =
                    "With --lora-out: the smallest rank per matrix whose relative Frobenius truncation error is <= E (energy kept >= 1 - E^2).")
    Double loraError;

    @Option(
            names = "--overwrite",
            description =
                    "Replace an existing merge output, once the new one is complete (files paft did not write are never deleted).")
    boolean overwrite;

    @Override
    public Integer call() {
        if (common.device != null
                && !common.device.equals("cpu")
                && !common.device.strip().equalsIgnoreCase("auto")) { // auto: the CPU, where merges run
            throw PaftException.usage(
                    "--device " + common.device + " is not supported by paft merge yet: merges run on the CPU "
                            + "(streaming, both cores); use --device cpu");
        }
        if (positionalConfig != null && common.config != null) {
            throw PaftException.usage("give the config either positionally or with --config, not both");
        }
        Path config = positionalConfig != null ? positionalConfig : common.config;
        if (positionalOut != null && out != null) {
            throw PaftException.usage("give the output either positionally or with --out, not both");
        }
        Path target = positionalOut != null ? positionalOut : out;
        if (loraOut == null && (loraRank != null || loraError != null)) {
            throw PaftException.usage("--lora-rank and --lora-error apply to --lora-out DIR (the merged adapter)");
        }
        if (loraOut != null && target != null) {
            throw PaftException.usage(
                    "--lora-out writes an adapter instead of a model: give --lora-out DIR or an output model directory, not both");
        }
        if (loraOut != null) {
            target = loraOut;
        }
        if (target == null) {
            throw PaftException.usage("no output directory: pass --out DIR (or paft merge CONFIG OUT)");
        }
        MergeSpec spec;
        if (config != null && MergeSpec.isMergekit(config)) {
            if (!common.sets.isEmpty()) {
                throw PaftException.usage("--set applies to paft configs; with a mergekit YAML use --param / --model");
            }
            spec = MergeSpec.fromMergekit(config);
        } else {
            common.config = config;
            PaftConfig cfg = common.load(Map.of());
            spec = MergeSpec.fromPaft(cfg.merge(), config);
        }
        spec = applyFlags(spec);
        if (loraOut != null) {
            LoraMerge.Result lr;
            try (OutputLock lock = lockOutput(spec, target, overwrite, LoraMerge.FILES)) {
                lr = LoraMerge.run(
                        spec,
                        new LoraMerge.Options(
                                target,
                                overwrite,
                                common.seed,
                                loraRank,
                                loraError,
                                s -> System.err.println("paft merge: " + s)));
            }
            System.out.println(LoraMerge.summary(spec, lr));
            return 0;
        }
        MergeRunner.Result r;
        try (OutputLock lock = lockOutput(spec, target, overwrite, OutputDirs.MERGE_FILES)) {
            r = MergeRunner.run(
                    spec,
                    new MergeRunner.Options(
                            target, overwrite, common.seed, 0, s -> System.err.println("paft merge: " + s)));
        }
        System.out.printf(
                "paft merge: %s of %d input(s) -> %s (%d tensors, %d shard(s), %.1f MB, %.1f s)%n",
                spec.method(),
                spec.modelPaths().size(),
                r.out(),
                r.tensors(),
                r.shards(),
                r.bytesWritten() / 1e6,
                r.seconds());
        return 0;
    }

    /**
     * The output policy of a merge (docs/GUARANTEES.md): the output holds no input, one process
     * at a time, temporaries of a killed merge removed, and --overwrite never deletes files paft
     * did not write (the old output itself is swapped out only once the new one is complete).
     */
    static OutputLock lockOutput(MergeSpec spec, Path target, boolean overwrite, Predicate<String> owned) {
        Map<String, Path> inputs = new LinkedHashMap<>();
        if (spec.base() != null) {
            inputs.put("base model", spec.resolve(spec.base(), "base_model"));
        }
        for (String in : spec.modelPaths()) {
            inputs.put("input " + in, spec.resolve(in, "models"));
        }
        OutputDirs.refuseInputs(target, inputs);
        OutputLock lock = OutputLock.acquire(target);
        try {
            OutputDirs.cleanStale(target, owned);
            if (overwrite && Files.isDirectory(target)) {
                OutputDirs.requireOnlyOwned(target, owned, "merge --overwrite");
            }
            return lock;
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    private MergeSpec applyFlags(MergeSpec s) {
        List<MergeSpec.Input> inputs = s.models();
        if (!models.isEmpty()) {
            inputs = new ArrayList<>();
            for (String m : models) {
                inputs.add(parseModel(m));
            }
        }
        Map<String, Object> gp = new LinkedHashMap<>(s.parameters());
        for (String p : params) {
            int eq = p.indexOf('=');
            if (eq <= 0) {
                throw PaftException.usage("--param " + p + ": expected KEY=VALUE");
            }
            gp.put(p.substring(0, eq).trim(), scalar(p.substring(eq + 1).trim()));
        }
        String m = method != null ? method : s.method();
        if (m == null) {
            throw PaftException.usage(
                    "no merge method: pass --method (one of " + String.join(", ", MergeMethods.REGISTRY.keySet())
                            + ") or a config with merge.method / merge_method");
        }
        return s.withFlags(
                m,
                base != null ? base : s.base(),
                inputs,
                gp,
                dtype != null ? dtype : s.dtype(),
                outDtype != null ? outDtype : s.outDtype(),
                shardSize != null ? shardSize : s.shardSize());
    }

    /** {@code DIR} or {@code DIR:weight=0.5,density=0.5}. */
    static MergeSpec.Input parseModel(String spec) {
        int colon = spec.lastIndexOf(':');
        if (colon < 0 || !spec.substring(colon + 1).contains("=")) {
            return new MergeSpec.Input(spec, Map.of());
        }
        Map<String, Object> p = new LinkedHashMap<>();
        for (String kv : spec.substring(colon + 1).split(",")) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw PaftException.usage("--model " + spec + ": expected DIR:key=value,key=value");
            }
            p.put(kv.substring(0, eq).trim(), scalar(kv.substring(eq + 1).trim()));
        }
        return new MergeSpec.Input(spec.substring(0, colon), p);
    }

    private static Object scalar(String v) {
        if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return Boolean.parseBoolean(v);
        }
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            return v;
        }
    }
}
