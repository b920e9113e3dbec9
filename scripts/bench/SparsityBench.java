import dev.paft.io.DType;
import dev.paft.io.Json;
import dev.paft.io.PeftAdapterConfig;
import dev.paft.io.SafetensorsWriter;
import dev.paft.io.TensorSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a synthetic 7B-sized PEFT adapter (Mistral-7B shapes: hidden 4096, 8 KV heads -> k/v out
 * 1024, MLP 14336, 32 layers, r 16, q/k/v/o/gate/up/down) in float32, streaming one tensor at a time.
 * Run with the paft jar on the class path: java -cp target/paft.jar scripts/bench/SparsityBench.java DIR
 */
public class SparsityBench {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int layers = 32, hidden = 4096, kv = 1024, mlp = 14336, r = 16;
        Files.createDirectories(dir);
        String[][] mods = {
            {"self_attn.q_proj", "" + hidden, "" + hidden},
            {"self_attn.k_proj", "" + hidden, "" + kv},
            {"self_attn.v_proj", "" + hidden, "" + kv},
            {"self_attn.o_proj", "" + hidden, "" + hidden},
            {"mlp.gate_proj", "" + hidden, "" + mlp},
            {"mlp.up_proj", "" + hidden, "" + mlp},
            {"mlp.down_proj", "" + mlp, "" + hidden}
        };
        List<TensorSpec> specs = new ArrayList<>();
        long params = 0, deltaElements = 0, largestDelta = 0;
        for (int l = 0; l < layers; l++) {
            for (String[] m : mods) {
                String p = "base_model.model.model.layers." + l + "." + m[0];
                long in = Long.parseLong(m[1]), out = Long.parseLong(m[2]);
                specs.add(new TensorSpec(p + ".lora_A.weight", DType.F32, new long[] {r, in}));
                specs.add(new TensorSpec(p + ".lora_B.weight", DType.F32, new long[] {out, r}));
                params += r * (in + out);
                deltaElements += in * out;
                largestDelta = Math.max(largestDelta, in * out);
            }
        }
        SplittableRandom rnd = new SplittableRandom(42);
        try (SafetensorsWriter w =
                new SafetensorsWriter(dir.resolve("adapter_model.safetensors"), specs, Map.of("format", "pt"))) {
            for (TensorSpec s : specs) {
                float[] v = new float[(int) s.numel()];
                boolean isB = s.name().contains("lora_B");
                for (int i = 0; i < v.length; i++) {
                    // A ~ U(-1/sqrt(in), 1/sqrt(in)) like Kaiming; B log-uniform in [1e-6, 1e-3], a third exactly 0
                    v[i] = isB
                            ? (rnd.nextInt(3) == 0
                                    ? 0f
                                    : (float) ((rnd.nextBoolean() ? 1 : -1) * Math.pow(10, -6 + 3 * rnd.nextDouble())))
                            : (float) ((2 * rnd.nextDouble() - 1) / Math.sqrt(s.shape()[1]));
                }
                w.writeFloats(s.name(), v);
            }
        }
        Json.write(
                dir.resolve("adapter_config.json"),
                new PeftAdapterConfig(
                                r,
                                32,
                                0.05,
                                List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                                false,
                                "mistralai/Mistral-7B-v0.1")
                        .toJson());
        System.out.printf(
                "adapter: %d params (%.1f MB F32), %d modules, %.3g delta elements, largest delta %d elements (%.1f MB F32)%n",
                params,
                params * 4 / 1e6,
                specs.size() / 2,
                (double) deltaElements,
                largestDelta,
                largestDelta * 4 / 1e6);
    }
}
