package dev.paft.model.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.LoraConfig;
import dev.paft.engine.Engines;
import dev.paft.io.HfModelConfig;
import dev.paft.io.Json;
import dev.paft.io.WeightStorage;
import dev.paft.lora.LoraAdapter;
import dev.paft.model.Autograd;
import dev.paft.model.LlamaModel;
import dev.paft.model.TrainingForward;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * RSS of the process around one training forward and backward of the decoder stack (no loss head): a probe for
 * where the memory of a step goes. {@code MemProbe LAYERS ROWS SEQ CHECKPOINT(true|false) DTYPE(f32|bf16) [STEPS]}
 * on the 0.84B layer shape (hidden 2048, MLP 5632, 32/4 heads, vocab 32000), LoRA r 16 on all modules, dropout 0.05.
 */
public final class MemProbe {
    private MemProbe() {}

    static long rssMb() throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("\\D", "")) / 1024;
            }
        }
        return -1;
    }

    static volatile long peak;

    static long peakAndReset() throws Exception {
        long p = Math.max(peak, rssMb());
        peak = 0;
        return p;
    }

    public static void main(String[] args) throws Exception {
        Thread sampler = new Thread(() -> {
            while (true) {
                try {
                    peak = Math.max(peak, rssMb());
                    Thread.sleep(20);
                } catch (Exception e) {
                    return;
                }
            }
        });
        sampler.setDaemon(true);
        sampler.start();
        int layers = Integer.parseInt(args[0]);
        int rows = Integer.parseInt(args[1]);
        int seq = Integer.parseInt(args[2]);
        boolean ck = Boolean.parseBoolean(args[3]);
        WeightStorage st = WeightStorage.valueOf(args[4].toUpperCase(Locale.ROOT));
        int steps = args.length > 5 ? Integer.parseInt(args[5]) : 2;
        Engines.start("cpu", 2);
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama")
                .put("vocab_size", 32000)
                .put("hidden_size", 2048)
                .put("intermediate_size", 5632)
                .put("num_hidden_layers", layers)
                .put("num_attention_heads", 32)
                .put("num_key_value_heads", 4)
                .put("rms_norm_eps", 1e-5)
                .put("rope_theta", 10000.0)
                .put("max_position_embeddings", 4096)
                .put("hidden_act", "silu")
                .put("tie_word_embeddings", false);
        Path dir = Files.createTempDirectory("memprobe");
        Files.writeString(dir.resolve("config.json"), c.toString());
        HfModelConfig cfg = HfModelConfig.read(dir);
        LoraConfig lora = new LoraConfig(
                16,
                16,
                0.05,
                List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                false);
        System.out.printf("start %d MB%n", rssMb());
        try (LlamaModel model = LlamaModel.random(cfg, 1, Device.cpu(), st);
                LoraAdapter adapter = model.newAdapter(lora, 1, "probe")) {
            System.out.printf(
                    "loaded %d MB, peak %d MB (weights %d MB)%n",
                    rssMb(), peakAndReset(), LlamaModel.weightBytes(cfg, st) >> 20);
            for (int s = 0; s < steps; s++) {
                try (NDManager scope = model.manager().newSubManager()) {
                    long[] ids = new long[rows * seq];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = (i * 7919L) % 32000;
                    }
                    NDArray x = scope.create(ids, new Shape(rows, seq));
                    final long seed = 7 + s;
                    long t0 = System.nanoTime();
                    TrainingForward f =
                            Autograd.withGrad(() -> model.trainingForward(scope, x, null, adapter, true, seed, ck));
                    long t1 = System.nanoTime();
                    System.out.printf(
                            "step %d forward %d MB, peak %d MB (%.1f s)%n",
                            s, rssMb(), peakAndReset(), (t1 - t0) / 1e9);
                    NDArray g = f.hidden().onesLike();
                    Autograd.withGrad(() -> {
                        f.backward(g);
                        return null;
                    });
                    System.out.printf(
                            "step %d backward %d MB, peak %d MB (%.1f s)%n",
                            s, rssMb(), peakAndReset(), (System.nanoTime() - t1) / 1e9);
                }
                System.out.printf("step %d closed %d MB%n", s, rssMb());
            }
        }
    }
}
