package dev.paft.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.ComputePrecision;
import dev.paft.config.L1Target;
import dev.paft.config.LoraConfig;
import dev.paft.config.OrpoNll;
import dev.paft.config.Scheduler;
import dev.paft.config.TrainingConfig;
import dev.paft.data.Batches;
import dev.paft.data.PreferenceExample;
import dev.paft.data.SftExample;
import dev.paft.engine.Engines;
import dev.paft.engine.Torch;
import dev.paft.io.AtomicFiles;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.HfModelConfig;
import dev.paft.io.Json;
import dev.paft.io.PeftAdapter;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.SafetensorsWriter;
import dev.paft.io.TensorInfo;
import dev.paft.io.WeightStorage;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraLinear;
import dev.paft.model.HfNames;
import dev.paft.model.LabelScorer;
import dev.paft.model.LlamaModel;
import dev.paft.model.Precision;
import dev.paft.testutil.Fixtures;
import dev.paft.testutil.TinyModels;
import dev.paft.train.LoraPolicy;
import dev.paft.train.Objective;
import dev.paft.train.PreferenceObjective;
import dev.paft.train.SftObjective;
import dev.paft.train.TrainState;
import dev.paft.train.TrainingLoop;
import dev.paft.train.loss.DpoLoss;
import dev.paft.train.loss.L1Penalty;
import dev.paft.train.optim.AdamW;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Training-step benchmark against the PyTorch reference {@code scripts/bench/torch_train.py}
 * (run by {@code scripts/bench/run-all.sh}; not a unit test).
 *
 * <pre>
 * prepare CONFIG DIR        writes DIR/config.json, DIR/model.safetensors (N(0, 0.02), unit norms),
 *                           DIR/adapter/ (PEFT, r 8 on q,k,v,o, A Kaiming-uniform, B ~ N(0, 0.01) so the
 *                           LoRA path is not zero) and DIR/batch.json (SFT rows; DPO pairs on the same tokens)
 * run DIR STEPS             the real TrainingLoop: 1 warm-up + STEPS SFT steps, then the same for DPO;
 *                           prints the step-1 loss and grad norm (the equivalence check) and s/step
 * phases DIR STEPS          the same step as the loop, phase by phase (forward, backward, clip, AdamW,
 *                           zero), alternating with a plain forward+backward (CE only) for the overhead ratio
 * random CONFIG STEPS DEV   like run on random in-memory weights (no files), on DEV (cpu / cuda): gpu.sh
 * matmul [N] [REPS]         N x N float32 matmul GFLOP/s (the ceiling)
 * profile DIR TRACE.json    libtorch profiler over one SFT forward + backward (after a warm-up): Chrome trace
 *                           for scripts/bench/profile_summary.py
 * </pre>
 * Output lines to parse start with {@code RESULT}; CONFIG is small, medium or gpu1b.
 */
public final class TrainBench {
    static final double LR = 1e-4;
    static final double L1_LAMBDA = 1e-4;
    static final double MAX_GRAD_NORM = 1.0;
    static final double DPO_BETA = 0.1;
    static final List<String> TARGETS = List.of("q_proj", "k_proj", "v_proj", "o_proj");

    /** Model shape, batch rows and sequence length of a named benchmark config. */
    record Bench(String name, int hidden, int layers, int heads, int kvHeads, int mlp, int vocab, int seq, int batch) {
        static Bench of(String name) {
            return switch (name) {
                case "small" -> new Bench(name, 256, 4, 8, 8, 688, 32000, 256, 8);
                case "medium" -> new Bench(name, 1024, 8, 16, 16, 2752, 32000, 512, 4);
                case "gpu1b" -> new Bench(name, 2048, 16, 32, 8, 5632, 32000, 1024, 4);
                case "small-b2" -> new Bench(name, 256, 4, 8, 8, 688, 32000, 256, 2); // profiling proxy
                case "tiny" -> new Bench(name, 64, 2, 4, 2, 128, 1000, 32, 4);
                default ->
                    throw new IllegalArgumentException("unknown config " + name + " (small, medium, gpu1b, tiny)");
            };
        }

        ObjectNode json() {
            ObjectNode c = TinyModels.llamaConfig(vocab, hidden, mlp, layers, heads, kvHeads);
            c.put("rope_theta", 10000.0);
            c.put("max_position_embeddings", 4096);
            c.put("tie_word_embeddings", false);
            return c;
        }

        HfModelConfig config() {
            return HfModelConfig.parse(json(), name);
        }
    }

    public static void main(String[] args) throws Exception {
        Locale.setDefault(Locale.ROOT);
        String mode = args[0];
        int threads = Integer.getInteger("bench.threads", 2);
        switch (mode) {
            case "prepare" -> prepare(Bench.of(args[1]), Path.of(args[2]));
            case "run" -> {
                String devName = System.getProperty("bench.device", "cpu"); // cuda: scripts/bench/gpu.sh
                Device dev = Engines.start(devName, devName.equals("cpu") ? threads : 0);
                System.out.println("device " + dev);
                Path dir = Path.of(args[1]);
                // bench.precision: fp32 (default) or bf16 (training.precision); bench.dtype: the weights' storage
                // (model.dtype)
                Precision precision = Precision.resolve(
                        ComputePrecision.valueOf(
                                System.getProperty("bench.precision", "fp32").toUpperCase(Locale.ROOT)),
                        dev);
                String storage = System.getProperty("bench.dtype", "f32");
                try (LlamaModel model =
                        LlamaModel.load(dir, dev, WeightStorage.valueOf(storage.toUpperCase(Locale.ROOT)))) {
                    runLoop(
                            model,
                            () -> model.loadAdapter(dir.resolve("adapter")),
                            readBatch(dir),
                            Integer.parseInt(args[2]),
                            precision == Precision.FP32 && storage.equals("f32")
                                    ? "paft"
                                    : "paft-" + precision.configName() + "-" + storage,
                            precision);
                }
            }
            case "phases" -> {
                Device dev = Engines.start("cpu", threads);
                Path dir = Path.of(args[1]);
                try (LlamaModel model = LlamaModel.load(dir, dev, false);
                        LoraAdapter adapter = model.loadAdapter(dir.resolve("adapter"))) {
                    phases(model, adapter, readBatch(dir), Integer.parseInt(args[2]));
                }
            }
            case "random" -> {
                Bench b = Bench.of(args[1]);
                Device dev = Engines.start(
                        args.length > 3 ? args[3] : "cpu", args.length > 3 && !args[3].equals("cpu") ? 0 : threads);
                System.out.println("device " + dev);
                long t0 = System.nanoTime();
                try (LlamaModel model = LlamaModel.random(b.config(), 1, dev, false)) {
                    System.out.printf("model built in %.1f s%n", (System.nanoTime() - t0) / 1e9);
                    LoraConfig lc = new LoraConfig(8, 16, 0, TARGETS, false);
                    runLoop(
                            model,
                            () -> model.newAdapter(lc, 1, "synthetic"),
                            synthBatch(b, 11),
                            Integer.parseInt(args[2]),
                            "paft");
                }
            }
            case "matmul" -> {
                String devName = args.length > 3 ? args[3] : "cpu";
                Device dev = Engines.start(devName, devName.equals("cpu") ? threads : 0);
                matmul(
                        args.length > 1 ? Integer.parseInt(args[1]) : 2048,
                        args.length > 2 ? Integer.parseInt(args[2]) : 10,
                        dev);
            }
            case "refmem" -> {
                Device dev = Engines.start("cpu", threads);
                Path dir = Path.of(args[1]);
                try (LlamaModel model = LlamaModel.load(dir, dev, false);
                        LoraAdapter adapter = args.length > 3 ? model.loadAdapter(dir.resolve("adapter")) : null) {
                    refmem(model, adapter, readBatch(dir), Integer.parseInt(args[2]));
                }
            }
            case "profile" -> {
                Device dev = Engines.start("cpu", threads);
                Path dir = Path.of(args[1]);
                try (LlamaModel model = LlamaModel.load(dir, dev, false);
                        LoraAdapter adapter = model.loadAdapter(dir.resolve("adapter"))) {
                    profile(model, adapter, readBatch(dir), args[2]);
                }
            }
            case "micro" -> {
                Engines.start("cpu", threads);
                micro(args.length > 1 ? Integer.parseInt(args[1]) : 5);
            }
            default -> throw new IllegalArgumentException("unknown mode " + mode);
        }
    }

    // ---------------------------------------------------------------- data

    /** SFT rows (every token labelled) and DPO pairs over the same tokens: 2k = batch rows, prompt T/2 + completion T/2. */
    record BenchBatch(List<SftExample> sft, List<PreferenceExample> dpo) {}

    static BenchBatch synthBatch(Bench b, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<SftExample> sft = new ArrayList<>();
        for (int i = 0; i < b.batch(); i++) {
            int[] ids = new int[b.seq()];
            for (int t = 0; t < ids.length; t++) {
                ids[t] = r.nextInt(b.vocab());
            }
            sft.add(new SftExample(ids, ids.clone()));
        }
        List<PreferenceExample> dpo = new ArrayList<>();
        int half = b.seq() / 2;
        for (int i = 0; i < b.batch() / 2; i++) {
            int[] prompt = Arrays.copyOfRange(sft.get(2 * i).inputIds(), 0, half);
            int[] chosen = Arrays.copyOfRange(sft.get(2 * i).inputIds(), half, b.seq());
            int[] rejected = Arrays.copyOfRange(sft.get(2 * i + 1).inputIds(), half, b.seq());
            dpo.add(new PreferenceExample(prompt, chosen, rejected));
        }
        return new BenchBatch(sft, dpo);
    }

    static BenchBatch readBatch(Path dir) throws Exception {
        JsonNode j = Json.MAPPER.readTree(dir.resolve("batch.json").toFile());
        List<SftExample> sft = new ArrayList<>();
        for (JsonNode row : j.get("sft_ids")) {
            int[] ids = ints(row);
            sft.add(new SftExample(ids, ids.clone()));
        }
        List<PreferenceExample> dpo = new ArrayList<>();
        for (JsonNode p : j.get("dpo")) {
            dpo.add(new PreferenceExample(ints(p.get("prompt")), ints(p.get("chosen")), ints(p.get("rejected"))));
        }
        return new BenchBatch(sft, dpo);
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    static ArrayNode array(int[] v) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (int x : v) {
            a.add(x);
        }
        return a;
    }

    static void prepare(Bench b, Path dir) throws Exception {
        Files.createDirectories(dir);
        HfModelConfig cfg = b.config();
        Json.MAPPER
                .writerWithDefaultPrettyPrinter()
                .writeValue(dir.resolve("config.json").toFile(), b.json());
        SplittableRandom rng = new SplittableRandom(1);
        Map<String, FloatTensor> weights = new LinkedHashMap<>();
        for (var e : HfNames.expectedTensors(cfg).entrySet()) {
            float[] x = new float[Math.toIntExact(TensorInfo.numel(e.getValue()))];
            boolean norm = e.getKey().endsWith("norm.weight");
            for (int i = 0; i < x.length; i++) {
                x[i] = norm ? 1f : (float) (gaussian(rng) * 0.02);
            }
            weights.put(e.getKey(), new FloatTensor(e.getValue(), x));
        }
        SafetensorsWriter.writeAll(dir.resolve("model.safetensors"), weights, DType.F32, Map.of("format", "pt"));
        weights.clear();
        Map<String, PeftAdapter.LoraPair> mods = new LinkedHashMap<>();
        for (var e : HfNames.loraModules(cfg, TARGETS).entrySet()) {
            long out = e.getValue()[0];
            long in = e.getValue()[1];
            float[] a = new float[Math.toIntExact(8 * in)];
            float[] bb = new float[Math.toIntExact(out * 8)];
            double bound = 1.0 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            }
            for (int i = 0; i < bb.length; i++) {
                bb[i] = (float) (gaussian(rng) * 0.01);
            }
            mods.put(
                    e.getKey(),
                    new PeftAdapter.LoraPair(
                            new FloatTensor(new long[] {8, in}, a), new FloatTensor(new long[] {out, 8}, bb)));
        }
        new PeftAdapter(new PeftAdapterConfig(8, 16, 0, TARGETS, false, "synthetic"), mods)
                .write(dir.resolve("adapter"), DType.F32, null);
        BenchBatch batch = synthBatch(b, 11);
        ObjectNode j = Json.MAPPER.createObjectNode();
        ArrayNode rows = j.putArray("sft_ids");
        batch.sft().forEach(s -> rows.add(array(s.inputIds())));
        ArrayNode pairs = j.putArray("dpo");
        for (PreferenceExample p : batch.dpo()) {
            ObjectNode o = pairs.addObject();
            o.set("prompt", array(p.promptIds()));
            o.set("chosen", array(p.chosenIds()));
            o.set("rejected", array(p.rejectedIds()));
        }
        j.put("lr", LR);
        j.put("l1_lambda", L1_LAMBDA);
        j.put("max_grad_norm", MAX_GRAD_NORM);
        j.put("dpo_beta", DPO_BETA);
        Json.MAPPER.writeValue(dir.resolve("batch.json").toFile(), j);
        System.out.println("prepared " + b + " in " + dir);
    }

    static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    // ---------------------------------------------------------------- the real loop

    static TrainingConfig trainingConfig(int steps, int batchSize, Path out) {
        return new TrainingConfig(
                LR,
                Scheduler.CONSTANT,
                0,
                0,
                1.0,
                steps,
                batchSize,
                1,
                MAX_GRAD_NORM,
                0.0,
                0.9,
                0.999,
                1e-8,
                1,
                0,
                0,
                1,
                1,
                out.toString(),
                false,
                1024,
                ComputePrecision.FP32,
                null);
    }

    interface AdapterSource {
        LoraAdapter get() throws Exception;
    }

    /** SFT then DPO through {@link TrainingLoop}, each from a fresh copy of the adapter. */
    static void runLoop(LlamaModel model, AdapterSource adapters, BenchBatch batch, int steps, String impl)
            throws Exception {
        runLoop(model, adapters, batch, steps, impl, Precision.FP32);
    }

    static void runLoop(
            LlamaModel model, AdapterSource adapters, BenchBatch batch, int steps, String impl, Precision precision)
            throws Exception {
        long tokens = batch.sft().stream().mapToLong(SftExample::length).sum();
        for (String kind : List.of("sft", "dpo")) {
            resetPeakRss();
            try (LoraAdapter adapter = adapters.get()) {
                LoraPolicy policy = new LoraPolicy(model, adapter, true, LabelScorer.DEFAULT_CHUNK, precision);
                Path out = Files.createTempDirectory("paft-bench-" + kind);
                List<Double> times = new ArrayList<>();
                double[] first = new double[2];
                long[] last = {0};
                TrainingLoop.Listener listener = new TrainingLoop.Listener() {
                    @Override
                    public void onStart(TrainState s) {
                        last[0] = System.nanoTime();
                    }

                    @Override
                    public void onStep(TrainState s, Map<String, Object> m) {
                        long now = System.nanoTime();
                        times.add((now - last[0]) / 1e9);
                        last[0] = now;
                        if (s.step() == 1) {
                            first[0] = ((Number) m.get("loss")).doubleValue();
                            first[1] = ((Number) m.get("grad_norm")).doubleValue();
                        }
                    }
                };
                var settings = new TrainingLoop.Settings(out, true, false, null, null, Map.of(), null, "bench", null);
                NDManager root = model.manager().newSubManager();
                try {
                    if (kind.equals("sft")) {
                        var obj = new SftObjective(policy, new L1Penalty(L1Target.FACTORS, L1_LAMBDA), 0);
                        new TrainingLoop<SftExample>(
                                        trainingConfig(steps + 1, batch.sft().size(), out), settings, listener)
                                .run(root, policy, obj, batch.sft(), List.of());
                    } else {
                        var obj = new PreferenceObjective(policy, new DpoLoss(DPO_BETA, 0), OrpoNll.COMPLETION, 0);
                        new TrainingLoop<PreferenceExample>(
                                        trainingConfig(steps + 1, batch.dpo().size(), out), settings, listener)
                                .run(root, policy, obj, batch.dpo(), List.of());
                    }
                } finally {
                    root.close();
                    AtomicFiles.deleteRecursively(out);
                }
                List<Double> timed = times.subList(1, times.size());
                System.out.printf(
                        "RESULT impl=%s kind=%s loss0=%.6f gnorm0=%.6f tokens=%d warm_s=%.4f step_s=%s min_s=%.4f mean_s=%.4f peak_rss_mb=%d%n",
                        impl,
                        kind,
                        first[0],
                        first[1],
                        tokens,
                        times.get(0),
                        fmt(timed),
                        timed.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN),
                        timed.stream()
                                .mapToDouble(Double::doubleValue)
                                .average()
                                .orElse(Double.NaN),
                        status("VmHWM:") / 1024);
            }
        }
    }

    static String fmt(List<Double> xs) {
        StringBuilder sb = new StringBuilder();
        for (double x : xs) {
            sb.append(sb.length() == 0 ? "" : ",").append(String.format("%.4f", x));
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------- phases

    /**
     * The loop's step split into timed phases (the loop's own code through its step seam: TrainingLoop.microStep,
     * clipGradients, AdamW, zeroGradients), alternated with a forward+backward of the plain CE (no L1, no optimizer).
     */
    static void phases(LlamaModel model, LoraAdapter adapter, BenchBatch batch, int steps) {
        LoraPolicy policy = new LoraPolicy(model, adapter);
        var sft = new SftObjective(policy, new L1Penalty(L1Target.FACTORS, L1_LAMBDA), 0);
        var ce = new SftObjective(policy, new L1Penalty(L1Target.FACTORS, 0), 0);
        var dpo = new PreferenceObjective(policy, new DpoLoss(DPO_BETA, 0), OrpoNll.COMPLETION, 0);
        Map<String, NDArray> params = policy.parameters();
        String[] names = {
            "sft.forward",
            "sft.backward",
            "sft.clip",
            "sft.adamw",
            "sft.zero",
            "fb.forward",
            "fb.backward",
            "dpo.forward",
            "dpo.backward",
            "dpo.clip+adamw+zero"
        };
        double[][] t = new double[names.length][steps];
        NDManager root = model.manager().newSubManager();
        try (AdamW opt = new AdamW(root, AdamW.Config.defaults())) {
            for (int i = -1; i < steps; i++) { // i = -1: warm-up
                double[] s = stepPhases(root, sft, batch.sft(), params, opt, true);
                double[] f = stepPhases(root, ce, batch.sft(), params, opt, false);
                double[] d = stepPhases(root, dpo, batch.dpo(), params, opt, true);
                if (i >= 0) {
                    for (int k = 0; k < 5; k++) {
                        t[k][i] = s[k];
                    }
                    t[5][i] = f[0];
                    t[6][i] = f[1];
                    t[7][i] = d[0];
                    t[8][i] = d[1];
                    t[9][i] = d[2] + d[3] + d[4];
                }
            }
        } finally {
            root.close();
        }
        StringBuilder sb = new StringBuilder("RESULT impl=paft kind=phases");
        for (int k = 0; k < names.length; k++) {
            double min = Double.MAX_VALUE;
            double sum = 0;
            for (double x : t[k]) {
                min = Math.min(min, x);
                sum += x;
            }
            sb.append(String.format(" %s=%.4f/%.4f", names[k], min, sum / steps));
        }
        System.out.println(sb + "  (min/mean seconds)");
    }

    /** forward (objective incl. loss), backward, clip, AdamW, zero: seconds per phase, through the loop's step seam. */
    static <E> double[] stepPhases(
            NDManager root, Objective<E> obj, List<E> batch, Map<String, NDArray> params, AdamW opt, boolean update) {
        double[] out = new double[5];
        long[] marks = new long[3];
        marks[0] = System.nanoTime();
        TrainingLoop.microStep(
                root,
                obj,
                batch,
                1.0,
                new LinkedHashMap<>(),
                phase -> marks[phase.equals("forward") ? 1 : 2] = System.nanoTime());
        long t2 = System.nanoTime();
        if (update) {
            TrainingLoop.clipGradients(root, params, MAX_GRAD_NORM);
        }
        long t3 = System.nanoTime();
        if (update) {
            opt.step(params, LR);
        }
        long t4 = System.nanoTime();
        TrainingLoop.zeroGradients(params);
        long t5 = System.nanoTime();
        out[0] = (marks[1] - marks[0]) / 1e9;
        out[1] = (marks[2] - marks[1]) / 1e9;
        out[2] = (t3 - t2) / 1e9;
        out[3] = (t4 - t3) / 1e9;
        out[4] = (t5 - t4) / 1e9;
        return out;
    }

    /**
     * libtorch's profiler over one SFT forward + backward (the loop's objective, after one warm-up step):
     * a Chrome trace at {@code out}; {@code scripts/bench/profile_summary.py} turns it into per-op self times.
     */
    static void profile(LlamaModel model, LoraAdapter adapter, BenchBatch batch, String out) {
        LoraPolicy policy = new LoraPolicy(model, adapter);
        var sft = new SftObjective(policy, new L1Penalty(L1Target.FACTORS, L1_LAMBDA), 0);
        Map<String, NDArray> params = policy.parameters();
        NDManager root = model.manager().newSubManager();
        try (AdamW opt = new AdamW(root, AdamW.Config.defaults())) {
            stepPhases(root, sft, batch.sft(), params, opt, false); // warm-up
            JniUtils.startProfile(false, false, false);
            double[] t = stepPhases(root, sft, batch.sft(), params, opt, false);
            JniUtils.stopProfile(out);
            System.out.printf(
                    "RESULT impl=paft kind=profile forward_s=%.3f backward_s=%.3f trace=%s%n", t[0], t[1], out);
        } finally {
            root.close();
        }
    }

    /** The DPO reference forward (base model, no grad) with label log-probs: best time and peak RSS growth. */
    static void refmem(LlamaModel model, LoraAdapter adapter, BenchBatch batch, int reps) throws Exception {
        var b = Batches.sft(batch.sft(), 0);
        long hwm0 = status("VmHWM:");
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            try (NDManager scope = model.manager().newSubManager()) {
                Shape shape = new Shape(b.rows(), b.cols());
                NDArray ids = scope.create(b.flatInputIds(), shape);
                NDArray mask = scope.create(b.flatAttentionMask(), shape);
                JniUtils.setGradMode(adapter != null); // with an adapter: forward + backward of the SFT CE
                Fixtures.ce(
                        model,
                        scope,
                        ids,
                        mask,
                        b.flatLabels(),
                        adapter,
                        adapter != null,
                        true,
                        LabelScorer.DEFAULT_CHUNK,
                        0);
                JniUtils.setGradMode(false);
                if (adapter != null) {
                    adapter.zeroGradients();
                }
            }
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        System.out.printf(
                "RESULT impl=paft kind=" + (adapter == null ? "refmem" : "trainmem")
                        + " rows=%d best_s=%.3f peak_rss_growth_mb=%d%n",
                b.rows(),
                best,
                (status("VmHWM:") - hwm0) / 1024);
    }

    /**
     * Resets the process's peak RSS (VmHWM) to the current RSS (Linux: "5" into /proc/self/clear_refs), so
     * each kind's peak_rss_mb is its own (the model's weights included, as in torch_train.py).
     */
    static void resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (Exception e) {
            // not Linux, or not allowed: the peak is then cumulative
        }
    }

    static long status(String key) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------- micro-benchmarks

    interface Op {
        NDArray run();
    }

    static void timeOp(String name, int reps, Op op) {
        String only = System.getProperty("bench.ops", "");
        if (!only.isEmpty() && !Arrays.asList(only.split(",")).contains(name)) {
            return;
        }
        op.run().close();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            op.run().close();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        System.out.printf("RESULT impl=paft kind=micro op=%s best_ms=%.3f%n", name, best * 1e3);
    }

    /** Single ops at the small config's shapes (batch 2), best of {@code reps}; torch_train.py micro runs the same. */
    static void micro(int reps) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(2, 256, 256));
            NDArray head = m.randomNormal(new Shape(32000, 256));
            NDArray logits = m.randomNormal(new Shape(2, 256, 32000));
            NDArray q = m.randomNormal(new Shape(2, 8, 256, 32));
            NDArray small = m.randomNormal(new Shape(8, 256));
            timeOp("lm_head_linear", reps, () -> LoraLinear.linear(x, head, null));
            timeOp("log_softmax_shifted", reps, () -> logits.get(":, :-1, :").logSoftmax(-1));
            timeOp("qk_matmul", reps, () -> q.matMul(q.transpose(0, 1, 3, 2)));
            NDArray kt = q.transpose(0, 1, 3, 2);
            NDArray ktc = kt.duplicate();
            NDArray q3 = q.reshape(16, 256, 32);
            NDArray kt3 = ktc.reshape(16, 32, 256);
            NDArray kt3v = q3.transpose(0, 2, 1);
            timeOp("qk_matmul_contig", reps, () -> q.matMul(ktc));
            timeOp("qk_bmm3_contig", reps, () -> q3.batchMatMul(kt3));
            timeOp("qk_bmm3_view", reps, () -> q3.batchMatMul(kt3v));
            NDArray p4 = m.randomNormal(new Shape(2, 8, 256, 256));
            timeOp("qk_loop_mm", reps, () -> {
                NDList outs = new NDList();
                for (int i = 0; i < 16; i++) {
                    outs.add(q3.get(i).matMul(kt3v.get(i)));
                }
                NDArray r = NDArrays.stack(outs);
                outs.close();
                return r;
            });
            timeOp("pv_matmul", reps, () -> p4.matMul(q));
            timeOp("pv_bmm3", reps, () -> p4.reshape(16, 256, 256).batchMatMul(q3));
            // AdamW over the small config's 32 LoRA tensors (A [8,256], B [256,8]) with gradients present
            Map<String, NDArray> ps = new LinkedHashMap<>();
            for (int i = 0; i < 32; i++) {
                NDArray pa = m.randomNormal(i % 2 == 0 ? new Shape(8, 256) : new Shape(256, 8));
                pa.setRequiresGradient(true);
                ps.put("p" + i, pa);
            }
            try (NDManager g = m.newSubManager()) {
                JniUtils.setGradMode(true);
                NDArray tot = null;
                for (NDArray pa : ps.values()) {
                    NDArray sq = pa.square().sum();
                    tot = tot == null ? sq : tot.add(sq);
                }
                JniUtils.backward((PtNDArray) tot, (PtNDArray) tot.onesLike(), false, false);
                JniUtils.setGradMode(false);
            }
            // a copy of the parameters for the pre-fix update; same gradients (bit-identity check below)
            Map<String, NDArray> ps2 = new LinkedHashMap<>();
            for (var e : ps.entrySet()) {
                NDArray c = e.getValue().duplicate();
                c.setRequiresGradient(true);
                ps2.put(e.getKey(), c);
            }
            try (NDManager g = m.newSubManager()) {
                JniUtils.setGradMode(true);
                NDArray tot = null;
                for (NDArray pa : ps2.values()) {
                    NDArray sq = pa.square().sum();
                    tot = tot == null ? sq : tot.add(sq);
                }
                JniUtils.backward((PtNDArray) tot, (PtNDArray) tot.onesLike(), false, false);
                JniUtils.setGradMode(false);
            }
            AdamW opt = new AdamW(m, new AdamW.Config(0.9, 0.999, 1e-8, 0.01));
            AdamWLegacy legacy = new AdamWLegacy(m);
            for (int round = 0; round < 3; round++) { // interleaved: new, legacy, new, legacy, new, legacy
                timeOp("adamw_32_tensors", reps, () -> {
                    opt.step(ps, 1e-4);
                    return m.zeros(new Shape(1));
                });
                timeOp("adamw_32_tensors_prefix", reps, () -> {
                    legacy.step(ps2, 1e-4, 0.9, 0.999, 1e-8, 0.01);
                    return m.zeros(new Shape(1));
                });
            }
            boolean same = true;
            for (String k : ps.keySet()) {
                same &= Arrays.equals(ps.get(k).toFloatArray(), ps2.get(k).toFloatArray());
            }
            System.out.println("RESULT impl=paft kind=micro op=adamw_bit_identical_to_prefix value=" + same);
            timeOp("clip_32_tensors", reps, () -> {
                TrainingLoop.clipGradients(m, ps, 1.0);
                return m.zeros(new Shape(1));
            });
            timeOp("tiny_add_x100", reps, () -> {
                NDArray acc = small.add(small);
                for (int i = 0; i < 99; i++) {
                    NDArray next = acc.add(small);
                    acc.close();
                    acc = next;
                }
                return acc;
            });
        }
    }

    // ---------------------------------------------------------------- matmul ceiling

    /** Best time of an N x N float32 matmul; on a GPU each product is synchronized by reading one element. */
    static void matmul(int n, int reps, Device dev) {
        try (NDManager m = NDManager.newBaseManager(dev)) {
            boolean bf16 = "bf16".equals(System.getProperty("bench.matmul.dtype")); // the MFU denominator of bf16 runs
            NDArray a = m.randomNormal(new Shape(n, n));
            NDArray b = m.randomNormal(new Shape(n, n));
            if (bf16) {
                a = Torch.cast(a, Torch.Dtype.BF16);
                b = Torch.cast(b, Torch.Dtype.BF16);
            }
            try (NDArray c = a.matMul(b);
                    NDArray c0 = c.get(0, 0);
                    NDArray f = Torch.cast(c0, Torch.Dtype.F32)) {
                f.getFloat();
            }
            double best = Double.MAX_VALUE;
            for (int i = 0; i < reps; i++) {
                long t0 = System.nanoTime();
                try (NDArray c = a.matMul(b);
                        NDArray e = c.get(0, 0);
                        NDArray f = Torch.cast(e, Torch.Dtype.F32)) {
                    f.getFloat();
                }
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            System.out.printf(
                    "RESULT impl=paft kind=matmul n=%d dtype=%s best_s=%.5f gflops=%.1f%n",
                    n, bf16 ? "bfloat16" : "float32", best, 2.0 * n * n * n / best / 1e9);
        }
    }
}
