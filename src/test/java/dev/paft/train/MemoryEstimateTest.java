package dev.paft.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.config.LoraConfig;
import dev.paft.io.HfModelConfig;
import dev.paft.io.WeightStorage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The dry-run estimate's parts against hand-computed values on the llama fixture (hidden 64, MLP 96, 2 layers, vocab 160). */
class MemoryEstimateTest {
    static final HfModelConfig C = HfModelConfig.read(Path.of("src/test/resources/model/llama"));
    static final LoraConfig LORA = new LoraConfig(4, 8, 0.0, List.of("q_proj", "v_proj"), false);

    static MemoryEstimate est(WeightStorage s, boolean ck, int chunk, int rows, int seq) {
        return MemoryEstimate.of(
                C,
                LORA,
                s,
                TrainPlan.trainableParams(C, LORA),
                new MemoryEstimate.Shape(rows, seq, ck, chunk, false, false));
    }

    @Test
    void partsMatchHandComputedValues() {
        // q: 4 x (64 + 64), v: 4 x (64 + 32) (2 KV heads of 16), 2 layers = 1792 params x 16 bytes
        assertEquals(1792L * 16, est(WeightStorage.F32, true, 1024, 2, 8).adapter());
        // layer: q,o 64x64, k,v 32x64, gate/up/down 96x64 = 30720; + embed and head 2 x 160x64; norms 2 x 2 x 64 + 64
        long proj = 2 * 30720 + 2 * 160 * 64;
        long norms = 2 * 2 * 64 + 64;
        assertEquals(
                4 * (proj + norms), est(WeightStorage.F32, true, 1024, 2, 8).weights());
        assertEquals(
                2 * proj + 4 * norms, est(WeightStorage.BF16, true, 1024, 2, 8).weights());
        // loss head, N = 16 tokens under the chunk: 4 x 16 x 160 x 4 + 2 x 16 x 64 x 4 (+ the widened head for bf16)
        assertEquals(
                4L * 16 * 160 * 4 + 2L * 16 * 64 * 4,
                est(WeightStorage.F32, true, 1024, 2, 8).lossHead());
        assertEquals(
                4L * 16 * 160 * 4 + 2L * 16 * 64 * 4 + 160L * 64 * 4,
                est(WeightStorage.BF16, true, 1024, 2, 8).lossHead());
        // a chunk of 4 bounds the logits part, not the hidden states
        assertEquals(
                4L * 4 * 160 * 4 + 2L * 16 * 64 * 4,
                est(WeightStorage.F32, true, 4, 2, 8).lossHead());
    }

    @Test
    void checkpointingKeepsLayerInputsAndOneLayer() {
        int rows = 2;
        int seq = 8;
        long n = rows * seq;
        long saved = MemoryEstimate.layerSaved(C, LORA, WeightStorage.F32, rows, seq);
        long tr = MemoryEstimate.layerTransient(C, rows, seq);
        // saved: 7 N h + 2 N kvd + 4 N I + scores (2 x 4 heads x 8 x 8) floats, + A x (N x r) per adapted module
        assertEquals(4 * (7 * n * 64 + 2 * n * 32 + 4 * n * 96 + 2 * 4 * 8 * 8 + 2 * n * 4), saved);
        MemoryEstimate on = explicit(WeightStorage.F32, true, rows, seq);
        MemoryEstimate off = explicit(WeightStorage.F32, false, rows, seq);
        assertEquals(
                (long) ((2 * n * 64 * 4 + saved + tr + 2 * n * 64 * 4) * MemoryEstimate.ACTIVATION_FACTOR),
                on.activations());
        assertEquals((long) ((2 * saved + tr) * MemoryEstimate.ACTIVATION_FACTOR), off.activations());
        // 2-byte weights: autograd keeps the float32 copies of the layer's weights (30720 x 4 bytes per layer)
        assertEquals(saved + 30720L * 4, MemoryEstimate.layerSaved(C, LORA, WeightStorage.BF16, rows, seq));
        assertEquals(on.total(), on.weights() + on.adapter() + on.activations() + on.lossHead() + on.overhead());
        assertTrue(on.describe().startsWith("estimated peak memory: "), on.describe());
    }

    /** The explicit attention (external libtorch): one layer's scores are kept. */
    static MemoryEstimate explicit(WeightStorage s, boolean ck, int rows, int seq) {
        return MemoryEstimate.of(
                C,
                LORA,
                s,
                TrainPlan.trainableParams(C, LORA),
                new MemoryEstimate.Shape(rows, seq, ck, 1024, false, false, false, false));
    }

    /**
     * The fused attention keeps no scores: on the CPU (flash, k/v repeated to the 4 query heads) and on CUDA in
     * float32 (memory-efficient, k/v repeated) or bf16 (flash with grouped heads, k/v as they are). The fixture has
     * 4 heads of 16 over 2 KV heads, so the model is grouped-query.
     */
    @Test
    void fusedAttentionKeepsNoScores() {
        int rows = 2;
        int seq = 8;
        long n = rows * seq;
        long lse = 2 * 4 * 8 * 4; // float32 logsumexp [rows, heads, seq]
        long ax = 2 * n * 4 * 4; // A x (N x r) of q_proj and v_proj, float32
        // f32, k/v repeated: norms 2 N h, 5 N h, k v 2 N (4 x 16), MLP 4 N I, all float32
        long cpu = 4 * (2 * n * 64 + 5 * n * 64 + 2 * n * 64 + 4 * n * 96) + lse + ax;
        MemoryEstimate.Attn expanded = new MemoryEstimate.Attn(false, true);
        assertEquals(cpu, MemoryEstimate.layerSaved(C, LORA, WeightStorage.F32, rows, seq, 4, expanded));
        // backward: dq, dk, dv at 4 x 16 + a float32 dq accumulator, MLP 3 N I, 4 N h
        long tr = 4 * (3 * n * 64) + 4 * n * 64 + 4 * (3 * n * 96 + 4 * n * 64);
        assertEquals(tr, MemoryEstimate.layerTransient(C, rows, seq, 4, expanded));
        // checkpointed: 2 layer inputs + one layer + its backward + output gradient and input
        MemoryEstimate fused = est(WeightStorage.F32, true, 1024, rows, seq);
        assertEquals(
                (long) ((2 * n * 64 * 4 + cpu + tr + 2 * n * 64 * 4) * MemoryEstimate.ACTIVATION_FACTOR),
                fused.activations());
        assertTrue(fused.describe().contains("CPU flash kernel"), fused.describe());
        // the explicit attention's scores (2 x 4 x 8 x 8 floats) and their two gradients are what the fused one saves
        long scores = 2 * 4 * 8 * 8;
        long explicitSaved = MemoryEstimate.layerSaved(C, LORA, WeightStorage.F32, rows, seq);
        assertEquals(explicitSaved - 4 * scores + lse + 4 * 2 * n * 32, cpu);
        assertTrue(explicit(WeightStorage.F32, true, rows, seq).describe().contains("explicit"));
        // CUDA bf16: flash takes the grouped heads, k and v stay at 2 x 16; 2-byte activations, bf16 weight copies
        long cudaBf16 = 2 * n * 64 * 4 + 2 * (5 * n * 64 + 2 * n * 32 + 4 * n * 96) + lse + ax + 30720L * 2;
        assertEquals(
                cudaBf16,
                MemoryEstimate.layerSaved(
                        C, LORA, WeightStorage.BF16, rows, seq, 2, new MemoryEstimate.Attn(false, false)));
        MemoryEstimate gpu = MemoryEstimate.of(
                C,
                LORA,
                WeightStorage.BF16,
                TrainPlan.trainableParams(C, LORA),
                new MemoryEstimate.Shape(rows, seq, true, 1024, false, true, true));
        long trBf16 = 2 * (3 * n * 64) + 4 * n * 64 + 2 * (3 * n * 96 + 4 * n * 64);
        assertEquals(
                (long) ((2 * n * 64 * 2 + cudaBf16 + trBf16 + 2 * n * 64 * 2) * MemoryEstimate.ACTIVATION_FACTOR),
                gpu.activations());
        assertTrue(gpu.describe().contains("CUDA flash kernel"), gpu.describe());
        MemoryEstimate gpu32 = MemoryEstimate.of(
                C,
                LORA,
                WeightStorage.BF16,
                TrainPlan.trainableParams(C, LORA),
                new MemoryEstimate.Shape(rows, seq, true, 1024, false, true, false));
        assertTrue(gpu32.describe().contains("CUDA memory-efficient kernel"), gpu32.describe());
        assertTrue(gpu32.describe().contains("k/v repeated"), gpu32.describe());
        // CPU bf16: the kernel runs in float32 on casts of q, k, v (repeated) and keeps its float32 output too
        MemoryEstimate cpuBf16 = MemoryEstimate.of(
                C,
                LORA,
                WeightStorage.BF16,
                TrainPlan.trainableParams(C, LORA),
                new MemoryEstimate.Shape(rows, seq, true, 1024, false, false, true));
        assertTrue(cpuBf16.describe().contains("CPU flash kernel"), cpuBf16.describe());
        assertTrue(cpuBf16.describe().contains("in float32 on bf16 inputs"), cpuBf16.describe());
        long upcast = 2 * n * 64 * 4
                + 2 * (5 * n * 64 + 4 * n * 96)
                + 2 * n * 64 * 4
                + n * 64 * 2
                + n * 64 * 4
                + lse
                + ax
                + 30720L * 2;
        assertEquals(
                upcast,
                MemoryEstimate.layerSaved(
                        C, LORA, WeightStorage.BF16, rows, seq, 2, new MemoryEstimate.Attn(false, true, true)));
    }

    @Test
    void bf16ComputeKeepsTwoByteActivationsAndFloat32Norms() {
        int rows = 2;
        int seq = 8;
        long n = rows * seq;
        // norms 2 N h float32; q, attention output, residual, the norms' casts 5 N h, k v 2 N kvd, MLP 4 N I and
        // scores (2 x 4 heads x 8 x 8) in 2 bytes; A x (N x r) per adapted module float32; bf16 weight copies 30720 x 2
        long saved = 2 * n * 64 * 4
                + 2 * (5 * n * 64 + 2 * n * 32 + 4 * n * 96 + 2 * 4 * 8 * 8)
                + 2 * n * 4 * 4
                + 30720L * 2;
        assertEquals(saved, MemoryEstimate.layerSaved(C, LORA, WeightStorage.F32, rows, seq, 2));
        assertEquals(saved, MemoryEstimate.layerSaved(C, LORA, WeightStorage.BF16, rows, seq, 2));
        long tr = 2 * (2 * (2 * 4 * 8 * 8) + 3 * n * 96 + 4 * n * 64);
        assertEquals(tr, MemoryEstimate.layerTransient(C, rows, seq, 2));
        MemoryEstimate bf16 = MemoryEstimate.of(
                C,
                LORA,
                WeightStorage.BF16,
                TrainPlan.trainableParams(C, LORA),
                new MemoryEstimate.Shape(rows, seq, true, 1024, false, false, true, false));
        // checkpointed: 2 layer inputs + the layer's output gradient and input, 2 bytes each
        assertEquals(
                (long) ((2 * n * 64 * 2 + saved + tr + 2 * n * 64 * 2) * MemoryEstimate.ACTIVATION_FACTOR),
                bf16.activations());
        // the weights, adapter and loss head do not depend on the compute precision
        MemoryEstimate fp32 = explicit(WeightStorage.BF16, true, rows, seq);
        assertEquals(fp32.weights(), bf16.weights());
        assertEquals(fp32.adapter(), bf16.adapter());
        assertEquals(fp32.lossHead(), bf16.lossHead());
        assertTrue(bf16.activations() < fp32.activations());
    }
}
