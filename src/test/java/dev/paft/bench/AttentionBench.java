package dev.paft.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.paft.engine.Engines;
import dev.paft.engine.GradMode;
import dev.paft.engine.Scalars;
import dev.paft.engine.Torch;
import dev.paft.model.Attention;
import dev.paft.model.LlamaModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.bytedeco.pytorch.Node;
import org.bytedeco.pytorch.Tensor;

/**
 * Memory and time of one attention forward + backward (q, k, v requiring gradients, loss sum(o)) at a shape where
 * the [B, H, T, T] scores dominate, for the variants paft has run or can run (docs/BENCHMARKS.md, "Fused
 * attention"):
 * <ul>
 *   <li>{@code explicit}: {@link Attention#attend} with the additive causal mask (float32 only);</li>
 *   <li>{@code sdpa-mask}: {@code scaled_dot_product_attention} with the additive mask and enable_gqa (the call
 *       before issue 14's fix);</li>
 *   <li>{@code sdpa-causal}: is_causal, no mask, enable_gqa;</li>
 *   <li>{@code sdpa-mask-rep}, {@code sdpa-causal-rep}: the same with k and v repeated to the query heads first
 *       ({@link Torch#repeatHeads}; what the model does now where the kernel refuses grouped heads);</li>
 *   <li>{@code sdpa-causal-rep-f32}: bf16 q, k, v cast to float32 for the kernel, the output cast back (what the
 *       model does on the CPU in bf16).</li>
 * </ul>
 * The peak is the process's VmHWM over the timed forward+backward after resetting it ({@code /proc/self/clear_refs}
 * = 5) minus VmRSS before; one warm-up run precedes it. Run each variant in its own JVM (freed blocks the allocator
 * keeps would blur the next one's peak).
 *
 * <pre>java -cp ... dev.paft.bench.AttentionBench VARIANT B H KV T D DTYPE(f32|bf16) [THREADS]</pre>
 * Prints {@code RESULT kind=attention variant=... peak_mib=... ms=... kernel=<autograd node of the output>}.
 */
public final class AttentionBench {
    private AttentionBench() {}

    public static void main(String[] args) throws Exception {
        String variant = args[0];
        int b = Integer.parseInt(args[1]);
        int h = Integer.parseInt(args[2]);
        int kv = Integer.parseInt(args[3]);
        int t = Integer.parseInt(args[4]);
        int d = Integer.parseInt(args[5]);
        boolean bf16 = args[6].equals("bf16");
        int threads = args.length > 7 ? Integer.parseInt(args[7]) : 2;
        Device cpu = Engines.start("cpu", threads);
        try (NDManager m = NDManager.newBaseManager(cpu);
                GradMode on = GradMode.on()) {
            m.getEngine().setRandomSeed(3);
            NDArray q0 = m.randomNormal(new Shape(b, h, t, d));
            NDArray k0 = m.randomNormal(new Shape(b, kv, t, d));
            NDArray v0 = m.randomNormal(new Shape(b, kv, t, d));
            NDArray mask = null;
            if (variant.equals("explicit") || variant.startsWith("sdpa-mask")) {
                float[] mv = new float[t * t];
                for (int i = 0; i < t; i++) {
                    for (int j = i + 1; j < t; j++) {
                        mv[i * t + j] = LlamaModel.MASK_NEG;
                    }
                }
                mask = m.create(mv, new Shape(1, 1, t, t));
                if (bf16) {
                    mask = Torch.cast(mask, Torch.Dtype.BF16);
                }
            }
            String kernel = "";
            run(m, variant, q0, k0, v0, mask, bf16, d); // warm-up
            long before = status("VmRSS:");
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            long t0 = System.nanoTime();
            kernel = run(m, variant, q0, k0, v0, mask, bf16, d);
            double ms = (System.nanoTime() - t0) / 1e6;
            long peak = status("VmHWM:");
            System.out.printf(
                    Locale.ROOT,
                    "RESULT kind=attention variant=%s b=%d h=%d kv=%d t=%d d=%d dtype=%s threads=%d peak_mib=%d"
                            + " ms=%.0f kernel=%s%n",
                    variant,
                    b,
                    h,
                    kv,
                    t,
                    d,
                    bf16 ? "bf16" : "f32",
                    threads,
                    (peak - before) / 1024,
                    ms,
                    kernel);
        }
    }

    /** One forward + backward of sum(o); returns the autograd node that made o. */
    private static String run(
            NDManager m, String variant, NDArray q0, NDArray k0, NDArray v0, NDArray mask, boolean bf16, int d) {
        try (NDManager step = m.newSubManager()) {
            NDArray q = q0.duplicate();
            NDArray k = k0.duplicate();
            NDArray v = v0.duplicate();
            for (NDArray x : new NDArray[] {q, k, v}) {
                x.attach(step);
                x.setRequiresGradient(true);
            }
            NDArray qc = bf16 ? Torch.cast(q, Torch.Dtype.BF16) : q;
            NDArray kc = bf16 ? Torch.cast(k, Torch.Dtype.BF16) : k;
            NDArray vc = bf16 ? Torch.cast(v, Torch.Dtype.BF16) : v;
            double scale = 1.0 / Math.sqrt(d);
            long n = q.getShape().get(1) / k.getShape().get(1);
            NDArray o = switch (variant) {
                case "explicit" -> Attention.attend(qc, kc, vc, mask, Scalars.of(scale, m.getDevice()));
                case "sdpa-mask" -> Torch.sdpa(qc, kc, vc, mask, false, scale);
                case "sdpa-causal" -> Torch.sdpa(qc, kc, vc, null, true, scale);
                case "sdpa-mask-rep" ->
                    Torch.sdpa(qc, Torch.repeatHeads(kc, n), Torch.repeatHeads(vc, n), mask, false, scale);
                case "sdpa-causal-rep" ->
                    Torch.sdpa(qc, Torch.repeatHeads(kc, n), Torch.repeatHeads(vc, n), null, true, scale);
                case "sdpa-causal-rep-f32" -> // bf16 in, the kernel in float32, bf16 out
                    Torch.cast(
                            Torch.sdpa(
                                    Torch.cast(qc, Torch.Dtype.F32),
                                    Torch.repeatHeads(Torch.cast(kc, Torch.Dtype.F32), n),
                                    Torch.repeatHeads(Torch.cast(vc, Torch.Dtype.F32), n),
                                    null,
                                    true,
                                    scale),
                            Torch.Dtype.BF16);
                default -> throw new IllegalArgumentException("unknown variant " + variant);
            };
            String kernel;
            try (Tensor ot = Torch.view(o)) {
                Node node = ot.grad_fn();
                kernel = node == null || node.isNull() ? "none" : node.name().getString();
            }
            NDArray of = bf16 ? Torch.cast(o, Torch.Dtype.F32) : o;
            Torch.backward(of, step.ones(q.getShape()));
            q.getGradient().get(0, 0, 0, 0).toFloatArray(); // waits for the backward
            return kernel;
        }
    }

    private static long status(String key) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith(key)) {
                return Long.parseLong(l.replaceAll("\\D", ""));
            }
        }
        return -1;
    }
}
