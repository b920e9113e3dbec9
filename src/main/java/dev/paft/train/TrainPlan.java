package dev.paft.train;

import dev.paft.config.LoraConfig;
import dev.paft.io.HfModelConfig;
import dev.paft.model.HfNames;
import java.util.List;
import java.util.Locale;

/**
 * What a run will do, computed without loading weights: the {@code --dry-run} report.
 *
 * @param trainableParams LoRA parameters: sum over adapted modules of r * (in + out)
 * @param memory the estimated peak memory of a training micro-step, in parts ({@link MemoryEstimate})
 * @param deviceNote how the estimate compares with the device's memory (null: not checked)
 */
public record TrainPlan(
        int examples,
        long tokens,
        int evalExamples,
        int steps,
        long trainableParams,
        long baseParams,
        MemoryEstimate memory,
        String deviceNote,
        List<String> notes) {

    /** The estimated peak in bytes. */
    public long peakBytes() {
        return memory.total();
    }

    public static long trainableParams(HfModelConfig c, LoraConfig lora) {
        long n = 0;
        for (long[] outIn : HfNames.loraTargets(c, lora.targetModules()).values()) { // PEFT's target rule
            n += (long) lora.r() * (outIn[0] + outIn[1]);
        }
        return n;
    }

    public static long baseParams(HfModelConfig c) {
        long h = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long layer = h * q * 2 + h * kv * 2 + 3 * h * c.intermediateSize() + 2 * h;
        long emb = (long) c.vocabSize() * h;
        return c.numLayers() * layer + emb * (c.tieWordEmbeddings() ? 1 : 2) + h;
    }

    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(
                Locale.ROOT, "examples: %d train (%d tokens), %d eval%n", examples, tokens, evalExamples));
        sb.append(String.format(Locale.ROOT, "optimizer steps: %d%n", steps));
        sb.append(String.format(
                Locale.ROOT,
                "trainable parameters: %,d (%.4f%% of %,d)%n",
                trainableParams,
                100.0 * trainableParams / Math.max(1, baseParams),
                baseParams));
        sb.append(memory.describe());
        if (deviceNote != null) {
            sb.append(deviceNote).append('\n');
        }
        for (String n : notes) {
            sb.append(n).append('\n');
        }
        return sb.toString();
    }
}
