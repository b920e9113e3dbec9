package dev.paft.bench;

import dev.paft.config.LoraConfig;
import dev.paft.io.HfModelConfig;
import dev.paft.io.WeightStorage;
import dev.paft.train.MemoryEstimate;
import dev.paft.train.TrainPlan;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The {@code --dry-run} estimate of the zephyr configs (configs/zephyr/sft-sparse.yaml: seq 2048, batch 4, r 16;
 * dpo.yaml: seq 1024, 2 x 4 rows + the reference forward, r 128; both bf16 weights, checkpointing, chunk 1024) on a
 * model directory of the Mistral-7B shape, for CPU and CUDA, bf16 and fp32 compute, fused and explicit attention.
 * The dry run itself refuses an estimate above the host's memory, which hides the CUDA breakdown on a small host.
 *
 * <pre>java -cp ... dev.paft.bench.ZephyrEstimate MODEL_DIR [--describe]</pre>
 */
public final class ZephyrEstimate {
    private ZephyrEstimate() {}

    public static void main(String[] args) {
        HfModelConfig c = HfModelConfig.read(Path.of(args[0]));
        boolean describe = args.length > 1 && args[1].equals("--describe");
        for (String kind : new String[] {"sft", "dpo"}) {
            boolean sft = kind.equals("sft");
            LoraConfig lora = new LoraConfig(sft ? 16 : 128, sft ? 16 : 128, 0.05, LoraConfig.MODULES, false);
            long trainable = TrainPlan.trainableParams(c, lora);
            for (boolean cuda : new boolean[] {false, true}) {
                for (boolean bf16 : new boolean[] {true, false}) {
                    for (boolean fused : new boolean[] {true, false}) {
                        MemoryEstimate m = MemoryEstimate.of(
                                c,
                                lora,
                                WeightStorage.BF16,
                                trainable,
                                new MemoryEstimate.Shape(
                                        sft ? 4 : 8, sft ? 2048 : 1024, true, 1024, !sft, cuda, bf16, fused));
                        System.out.printf(
                                Locale.ROOT,
                                "RESULT kind=estimate run=%s device=%s precision=%s attention=%s total_gib=%.2f"
                                        + " activations_gib=%.2f%n",
                                kind,
                                cuda ? "cuda" : "cpu",
                                bf16 ? "bf16" : "fp32",
                                fused ? "fused" : "explicit",
                                m.total() / 1073741824.0,
                                m.activations() / 1073741824.0);
                        if (describe) {
                            System.out.print(m.describe());
                        }
                    }
                }
            }
        }
    }
}
