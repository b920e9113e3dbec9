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
 * @param peakBytes rough peak memory: frozen weights + 4 copies of the adapter (value, grad, two
 *     AdamW moments) + activations of one micro-batch kept for backward
 */
public record TrainPlan(int examples, long tokens, int evalExamples, int steps, long trainableParams,
                        long baseParams, long peakBytes, List<String> notes) {

    public static long trainableParams(HfModelConfig c, LoraConfig lora) {
        long n = 0;
        for (long[] outIn : HfNames.loraTargets(c, lora.targetModules()).values()) {   // PEFT's target rule
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

    /** Peak memory estimate in bytes for micro-batches of {@code rows x seq} tokens. */
    public static long peakBytes(HfModelConfig c, long trainable, boolean f16Storage, int rows, int seq) {
        long weights = baseParams(c) * (f16Storage ? 2 : 4);
        long adapter = trainable * 4 * 4;
        long tokens = (long) rows * seq;
        // per layer ~ 12 hidden-size activations + 3 MLP-size + attention scores; plus logits and log-softmax
        long perLayer = tokens * (12L * c.hiddenSize() + 3L * c.intermediateSize()) * 4
                + (long) rows * c.numHeads() * seq * seq * 4 * 2;
        long head = tokens * c.vocabSize() * 4 * 3;
        return weights + adapter + perLayer * c.numLayers() + head;
    }

    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "examples: %d train (%d tokens), %d eval%n", examples, tokens, evalExamples));
        sb.append(String.format(Locale.ROOT, "optimizer steps: %d%n", steps));
        sb.append(String.format(Locale.ROOT, "trainable parameters: %,d (%.4f%% of %,d)%n", trainableParams,
                100.0 * trainableParams / Math.max(1, baseParams), baseParams));
        sb.append(String.format(Locale.ROOT, "estimated peak memory: %.2f GiB%n", peakBytes / (1024.0 * 1024 * 1024)));
        for (String n : notes) {
            sb.append(n).append('\n');
        }
        return sb.toString();
    }
}
