package dev.paft.bench;

import dev.paft.io.AtomicFiles;
import dev.paft.io.DType;
import dev.paft.io.Json;
import dev.paft.io.ShardedWriter;
import dev.paft.io.TensorSpec;
import dev.paft.merge.MergeRunner;
import dev.paft.merge.MergeSpec;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Merge benchmark (scripts/bench/merge-bench.sh): builds a synthetic BF16 Llama-shaped base of at
 * least {@code --gb} GB plus two fine-tuned variants, then times in one run (a) reading every
 * input byte and writing the output's byte count (raw I/O), (b) task arithmetic, (c) TIES, and
 * prints the peak RSS growth of each merge (total and anonymous) sampled from /proc/self/status.
 */
public final class MergeBench {
    private MergeBench() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(arg(args, "--dir", "/tmp/paft-merge-bench"));
        double gb = Double.parseDouble(arg(args, "--gb", "4.1"));
        boolean keep = List.of(args).contains("--keep");
        boolean reuse = List.of(args).contains("--reuse"); // keep the models of an earlier --keep run
        int rounds = Integer.parseInt(arg(args, "--rounds", "1"));
        List<String> methods =
                List.of(arg(args, "--methods", "task_arithmetic,ties").split(","));
        // page cache before each timed run (raw I/O and merge alike): cold = the inputs evicted
        // (posix_fadvise DONTNEED), warm = the inputs read once first, asis = as the last run left it
        String cache = arg(args, "--cache", "cold");
        if (!List.of("cold", "warm", "asis").contains(cache)) {
            throw new IllegalArgumentException("--cache must be cold, warm or asis (got " + cache + ")");
        }
        int hidden = 2048;
        int inter = 5632;
        int vocab = 32000;
        long perLayer = 4L * hidden * hidden + 3L * hidden * inter;
        long fixed = 2L * vocab * hidden + hidden;
        int layers = (int) Math.ceil((gb * 1e9 / 2 - fixed) / perLayer);
        Files.createDirectories(dir);
        try {
            List<TensorSpec> specs = specs(layers, hidden, inter, vocab);
            long bytes = specs.stream().mapToLong(TensorSpec::byteSize).sum();
            System.out.printf(
                    "synthetic model: %d layers, hidden %d, intermediate %d, vocab %d, BF16, %.2f GB per model%n",
                    layers, hidden, inter, vocab, bytes / 1e9);
            System.out.printf(
                    "cpus %d, load average at start: %s; page cache before each timed run: %s%n",
                    Runtime.getRuntime().availableProcessors(), load(), cache);
            long t = System.nanoTime();
            Path base = dir.resolve("base");
            Path m1 = dir.resolve("m1");
            Path m2 = dir.resolve("m2");
            if (reuse && Files.isRegularFile(m2.resolve("config.json"))) {
                System.out.println("reusing the models in " + dir);
            } else {
                generate(base, specs, 1, 0f, layers, hidden, inter, vocab);
                generate(m1, specs, 2, 0.01f, layers, hidden, inter, vocab);
                generate(m2, specs, 3, 0.01f, layers, hidden, inter, vocab);
                System.out.printf("generated 3 models in %.1f s%n", (System.nanoTime() - t) / 1e9);
            }
            // interleaved: raw I/O before each merge, so both see the same page cache state and load
            Map<String, List<Double>> ratios = new LinkedHashMap<>();
            Map<String, List<Double>> secs = new LinkedHashMap<>();
            Map<String, List<Double>> cpus = new LinkedHashMap<>();
            List<Double> raws = new ArrayList<>();
            List<Double> rawCpus = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                for (String m : methods) {
                    List<Path> read = ONE_MODEL.contains(m)
                            ? (m.equals("passthrough") ? List.of(m1) : List.of(base, m1))
                            : List.of(base, m1, m2);
                    prepareCache(cache, read);
                    double c0 = cpu();
                    double raw = rawIo(read, dir.resolve("raw.bin"), bytes);
                    rawCpus.add(cpu() - c0);
                    System.out.printf(
                            "raw I/O: read %.2f GB + write %.2f GB: %.1f s, cpu %.1f s (load %s)%n",
                            read.size() * bytes / 1e9, bytes / 1e9, raw, rawCpus.get(rawCpus.size() - 1), load());
                    Map<String, Object> p =
                            m.equals("task_arithmetic") ? Map.of("weight", 0.5) : Map.of("weight", 0.5, "density", 0.5);
                    prepareCache(cache, read);
                    double[] sc = timedMerge(m, base, m1, m2, dir.resolve("out-" + m), p);
                    double s = sc[0];
                    cpus.computeIfAbsent(m, k -> new ArrayList<>()).add(sc[1]);
                    raws.add(raw);
                    secs.computeIfAbsent(m, k -> new ArrayList<>()).add(s);
                    ratios.computeIfAbsent(m, k -> new ArrayList<>()).add(s / raw);
                    System.out.printf("  %s / raw = %.2fx (load %s)%n", m, s / raw, load());
                }
            }
            StringBuilder sb = new StringBuilder(String.format(
                    "%nRESULT (%s cache) raw_io %.1f s, cpu %.1f s (medians)", cache, median(raws), median(rawCpus)));
            for (String m : methods) {
                double target = m.equals("task_arithmetic") ? 1.5 : 3;
                sb.append(String.format(
                        " | %s %.1f s, cpu %.1f s (%.2fx median of %s, target <= %.1fx)",
                        m,
                        median(secs.get(m)),
                        median(cpus.get(m)),
                        median(ratios.get(m)),
                        fmt(ratios.get(m)),
                        target));
            }
            System.out.println(sb);
            System.out.printf("load average at end: %s%n", load());
        } finally {
            if (!keep) {
                AtomicFiles.deleteRecursively(dir);
            }
        }
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static String fmt(List<Double> v) {
        return v.stream().map(x -> String.format("%.2f", x)).toList().toString();
    }

    private static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "?";
        }
    }

    private static String arg(String[] args, String name, String def) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return def;
    }

    static List<TensorSpec> specs(int layers, int hidden, int inter, int vocab) {
        List<TensorSpec> s = new ArrayList<>();
        s.add(new TensorSpec("model.embed_tokens.weight", DType.BF16, new long[] {vocab, hidden}));
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            for (String m : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) {
                s.add(new TensorSpec(p + "self_attn." + m + ".weight", DType.BF16, new long[] {hidden, hidden}));
            }
            s.add(new TensorSpec(p + "mlp.gate_proj.weight", DType.BF16, new long[] {inter, hidden}));
            s.add(new TensorSpec(p + "mlp.up_proj.weight", DType.BF16, new long[] {inter, hidden}));
            s.add(new TensorSpec(p + "mlp.down_proj.weight", DType.BF16, new long[] {hidden, inter}));
            s.add(new TensorSpec(p + "input_layernorm.weight", DType.BF16, new long[] {hidden}));
            s.add(new TensorSpec(p + "post_attention_layernorm.weight", DType.BF16, new long[] {hidden}));
        }
        s.add(new TensorSpec("model.norm.weight", DType.BF16, new long[] {hidden}));
        s.add(new TensorSpec("lm_head.weight", DType.BF16, new long[] {vocab, hidden}));
        return s;
    }

    /** Base values from seed 1; a variant adds {@code noise} times its own pseudo-random values. */
    static Path generate(
            Path dir, List<TensorSpec> specs, long seed, float noise, int layers, int hidden, int inter, int vocab)
            throws IOException {
        Files.createDirectories(dir);
        try (ShardedWriter w = new ShardedWriter(dir, "model", specs, 2_000_000_000L, Map.of("format", "pt"))) {
            long k = 0;
            for (TensorSpec s : specs) {
                float[] v = new float[(int) s.numel()];
                long x = 0x9E3779B97F4A7C15L * (++k);
                long y = 0x9E3779B97F4A7C15L * (k * 31 + seed);
                for (int j = 0; j < v.length; j++) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    v[j] = ((x >>> 40) / (float) (1 << 24) - 0.5f) * 0.05f;
                    if (noise != 0f) {
                        y ^= y << 13;
                        y ^= y >>> 7;
                        y ^= y << 17;
                        v[j] += ((y >>> 40) / (float) (1 << 24) - 0.5f) * noise;
                    }
                }
                w.writeFloats(s.name(), v);
            }
        }
        var cfg = Json.MAPPER.createObjectNode();
        cfg.putArray("architectures").add("LlamaForCausalLM");
        cfg.put("model_type", "llama")
                .put("hidden_size", hidden)
                .put("intermediate_size", inter)
                .put("num_attention_heads", 16)
                .put("num_key_value_heads", 16)
                .put("num_hidden_layers", layers)
                .put("vocab_size", vocab)
                .put("torch_dtype", "bfloat16");
        Json.write(dir.resolve("config.json"), cfg);
        return dir;
    }

    /** The inputs' safetensors files, sorted. */
    static List<Path> safetensors(List<Path> inputs) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path in : inputs) {
            try (Stream<Path> s = Files.list(in)) {
                out.addAll(s.filter(p -> p.toString().endsWith(".safetensors"))
                        .sorted()
                        .toList());
            }
        }
        return out;
    }

    /**
     * Puts the inputs in the page-cache state {@code mode}: cold evicts them (fdatasync, then
     * posix_fadvise DONTNEED through python3, as Java has no call for it), warm reads them once.
     */
    static void prepareCache(String mode, List<Path> inputs) throws IOException, InterruptedException {
        if (mode.equals("asis")) {
            return;
        }
        List<Path> files = safetensors(inputs);
        if (mode.equals("warm")) {
            ByteBuffer buf = ByteBuffer.allocateDirect(64 << 20);
            for (Path f : files) {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    while (ch.read(buf.clear()) >= 0) {
                        // read only to load the page cache
                    }
                }
            }
            return;
        }
        List<String> cmd = new ArrayList<>(List.of(
                "python3",
                "-c",
                "import os, sys\n"
                        + "for p in sys.argv[1:]:\n"
                        + "    fd = os.open(p, os.O_RDONLY)\n"
                        + "    os.fdatasync(fd)\n"
                        + "    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)\n"
                        + "    os.close(fd)\n"));
        files.forEach(f -> cmd.add(f.toString()));
        Process pr = new ProcessBuilder(cmd).inheritIO().start();
        if (pr.waitFor() != 0) {
            throw new IOException("could not evict the inputs from the page cache (python3 posix_fadvise failed)");
        }
    }

    /** Reads every byte of the inputs' safetensors files and writes {@code outBytes} bytes (fsync'd). */
    static double rawIo(List<Path> inputs, Path out, long outBytes) throws IOException {
        long t = System.nanoTime();
        ByteBuffer buf = ByteBuffer.allocateDirect(64 << 20);
        long sink = 0;
        for (Path f : safetensors(inputs)) {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                while (true) {
                    buf.clear();
                    int n = ch.read(buf);
                    if (n < 0) {
                        break;
                    }
                    sink += buf.get(0);
                }
            }
        }
        try (FileChannel ch = FileChannel.open(
                out, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long done = 0; done < outBytes; ) {
                buf.clear();
                buf.limit((int) Math.min(buf.capacity(), outBytes - done));
                done += ch.write(buf);
            }
            ch.force(true);
        }
        Files.delete(out);
        if (sink == 42) {
            System.out.print("");
        }
        return (System.nanoTime() - t) / 1e9;
    }

    /** Methods that merge one model (into the base): the bench gives them m1 only, and reads only those for raw I/O. */
    static final List<String> ONE_MODEL = List.of("nearswap", "arcee_fusion", "passthrough");

    /** Runs one merge; returns {wall seconds, process CPU seconds}. */
    static double[] timedMerge(String method, Path base, Path m1, Path m2, Path out, Map<String, Object> p)
            throws Exception {
        System.gc();
        long[] before = rss();
        long[] peak = before.clone();
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                long[] r = rss();
                for (int i = 0; i < 3; i++) {
                    peak[i] = Math.max(peak[i], r[i]);
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.setDaemon(true);
        sampler.start();
        // methods of one model besides the base (passthrough: one model, no base) merge m1 alone
        boolean one = ONE_MODEL.contains(method);
        MergeSpec.Builder b = MergeSpec.builder(method, method.equals("passthrough") ? null : base.toString())
                .input(m1.toString(), p);
        if (!one) {
            b.input(m2.toString(), p);
        }
        MergeSpec spec = b.parameters(method.equals("nearswap") ? Map.of("t", 0.01) : Map.of())
                .shardSize("5GB")
                .build();
        double c0 = cpu();
        long t = System.nanoTime();
        MergeRunner.Result r = MergeRunner.run(spec, new MergeRunner.Options(out, true));
        double s = (System.nanoTime() - t) / 1e9;
        double c = cpu() - c0;
        sampler.interrupt();
        sampler.join();
        System.out.printf(
                "%s: %.1f s, cpu %.1f s (user+sys, all threads), %d tensors, %.2f GB written; peak RSS growth %.0f MB "
                        + "(anon %.0f MB, file-backed mmap %.0f MB)%n",
                method,
                s,
                c,
                r.tensors(),
                r.bytesWritten() / 1e9,
                (peak[0] - before[0]) / 1e6,
                (peak[1] - before[1]) / 1e6,
                (peak[2] - before[2]) / 1e6);
        AtomicFiles.deleteRecursively(out);
        return new double[] {s, c};
    }

    /** CPU seconds (user + system) of this process so far, all threads; NaN when not available. */
    static double cpu() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime() / 1e9;
        }
        return Double.NaN;
    }

    /** VmRSS, RssAnon, RssFile in bytes. */
    static long[] rss() {
        long[] r = new long[3];
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                String[] f = line.split("\\s+");
                int i = line.startsWith("VmRSS:")
                        ? 0
                        : line.startsWith("RssAnon:") ? 1 : line.startsWith("RssFile:") ? 2 : -1;
                if (i >= 0) {
                    r[i] = Long.parseLong(f[1]) * 1024;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux: zeros
        }
        return r;
    }
}
