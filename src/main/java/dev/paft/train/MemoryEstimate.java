package dev.paft.train;

import dev.paft.config.LoraConfig;
import dev.paft.io.HfModelConfig;
import dev.paft.io.WeightStorage;
import dev.paft.model.AttentionKernel;
import dev.paft.model.LlamaModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The peak memory of one training micro-step, in parts: what {@code --dry-run} prints (docs/USER-GUIDE.md, "Memory").
 *
 * <p>The model follows what the engine keeps alive (float32 or bf16 activations; N = rows x seq tokens, h = hidden,
 * I = intermediate, S = rows x heads x seq x seq attention scores). Scores are counted only where they exist: with
 * the fused attention ({@code scaled_dot_product_attention}, is_causal on right-padded rows, k/v repeated where the
 * kernel needs it: model.AttentionKernel) no kernel the model reaches keeps them, on the CPU or on CUDA; the
 * explicit attention of an external libtorch does:
 * <ul>
 *   <li><b>weights</b>: projections and embeddings at {@code model.dtype} (4 or 2 bytes), norms float32.</li>
 *   <li><b>adapter + optimizer</b>: LoRA parameters, their gradients and AdamW's two moments, float32.</li>
 *   <li><b>activations</b>: what backward needs from one decoder layer ({@link #layerSaved}: normalised inputs,
 *       dropout outputs and masks of the LoRA branches, k and v, the attention probabilities (explicit) or the
 *       fused kernel's logsumexp, the MLP
 *       intermediates, and with 2-byte weights the float32 copies of the layer's weights that the matmuls saved),
 *       kept for every layer without checkpointing; with {@code training.gradient_checkpointing} only each
 *       layer's input [N, h] is kept and one layer at a time is recomputed. Plus the backward transients of one
 *       layer (gradients of the scores, or of q, k, v with the fused kernel, and of the MLP).</li>
 *   <li><b>loss head</b>: logits, log-softmax and their gradients for {@code training.loss_chunk_size} tokens at a
 *       time (never N x vocab unless the chunk is that large), the float32 copy of a 2-byte LM head, the final
 *       hidden states and their gradient.</li>
 *   <li><b>overhead</b>: the process without a model: JVM heap in use, libtorch and the tokenizer (measured on
 *       CPU; on CUDA the context and the caching allocator's slack, not measured yet).</li>
 * </ul>
 * Preference training runs 2 x batch_size rows (chosen + rejected) through the policy; the reference forward
 * (adapter off, no gradients) runs while the policy's checkpointed layer inputs are alive and is counted when it
 * is the larger peak. The constants were fitted to peak RSS measured with scripts/bench/memory-bench.sh
 * (docs/BENCHMARKS.md, "Memory").
 */
public record MemoryEstimate(
        long weights,
        long adapter,
        long activations,
        long lossHead,
        long overhead,
        boolean checkpointing,
        boolean weightsHalf,
        List<String> notes) {
    private static final double GIB = 1024.0 * 1024 * 1024;

    /** The process without a model (JVM, libtorch, tokenizer), measured on CPU (docs/BENCHMARKS.md, "Memory"). */
    static final long CPU_OVERHEAD = 350L << 20;
    /** A CUDA context plus the caching allocator's rounding: not measured yet (no GPU in the session that built this). */
    static final long CUDA_OVERHEAD = 1L << 30;
    /**
     * Peak RSS over the sum of the live activation parts: freed blocks the allocator keeps, buffers alive across ops.
     * Fitted on the 0.84B shape (seq 256, batch 2, f32): 1.4-1.5 with and without checkpointing (docs/BENCHMARKS.md).
     */
    static final double ACTIVATION_FACTOR = 1.4;

    /** The estimated peak: the sum of the parts. */
    public long total() {
        return weights + adapter + activations + lossHead + overhead;
    }

    /**
     * What one training run looks like to the estimate. {@code fusedAttention}: attention runs through libtorch's
     * {@code scaled_dot_product_attention} (JavaCPP's libtorch, the default); false on an external libtorch
     * ({@code PYTORCH_LIBRARY_PATH}), where the explicit attention keeps the scores.
     */
    public record Shape(
            int rows,
            int seq,
            boolean checkpointing,
            int lossChunk,
            boolean reference,
            boolean cuda,
            boolean bf16,
            boolean fusedAttention) {
        /** A run with the fused attention. */
        public Shape(
                int rows,
                int seq,
                boolean checkpointing,
                int lossChunk,
                boolean reference,
                boolean cuda,
                boolean bf16) {
            this(rows, seq, checkpointing, lossChunk, reference, cuda, bf16, true);
        }

        /** A float32-compute run ({@code training.precision: fp32}) with the fused attention. */
        public Shape(int rows, int seq, boolean checkpointing, int lossChunk, boolean reference, boolean cuda) {
            this(rows, seq, checkpointing, lossChunk, reference, cuda, false, true);
        }
    }

    public static MemoryEstimate of(HfModelConfig c, LoraConfig lora, WeightStorage storage, long trainable, Shape s) {
        List<String> notes = new ArrayList<>();
        long weights = LlamaModel.weightBytes(c, storage);
        long adapter = trainable * 4 * 4;
        long n = (long) s.rows() * s.seq();
        long h = c.hiddenSize();
        long e = s.bf16() ? 2 : 4; // bytes per activation element: training.precision bf16 keeps them in bf16
        // Training batches are right-padded, so the model calls the kernel with is_causal and no mask.
        boolean gqa = c.numKvHeads() < c.numHeads();
        boolean upcast = s.fusedAttention() && AttentionKernel.upcast(s.cuda(), s.bf16());
        boolean kernelBf16 = s.bf16() && !upcast;
        Attn attn = new Attn(
                AttentionKernel.materialisesScores(s.fusedAttention(), s.cuda(), kernelBf16, false),
                s.fusedAttention() && AttentionKernel.expandKv(s.cuda(), kernelBf16, false, gqa),
                upcast);
        long saved = layerSaved(c, lora, storage, s.rows(), s.seq(), e, attn);
        long transient_ = layerTransient(c, s.rows(), s.seq(), e, attn);
        notes.add(attentionNote(s, gqa, attn));
        long act;
        if (s.checkpointing()) {
            act = c.numLayers() * n * h * e + saved + transient_ + 2 * n * h * e;
            notes.add(String.format(
                    Locale.ROOT,
                    "activations: %d layer inputs of %s + one layer recomputed (%s) + its backward (%s)",
                    c.numLayers(),
                    mib(n * h * e),
                    mib(saved),
                    mib(transient_)));
        } else {
            act = c.numLayers() * saved + transient_;
            notes.add(String.format(
                    Locale.ROOT,
                    "activations: %d layers x %s kept for backward + the backward of one (%s);"
                            + " training.gradient_checkpointing: true keeps %s",
                    c.numLayers(),
                    mib(saved),
                    mib(transient_),
                    gib(c.numLayers() * n * h * e + saved + transient_ + 2 * n * h * e)));
        }
        if (s.reference()) {
            // the reference forward (no gradients) runs while the policy's layer inputs are alive
            long ref = (s.checkpointing() ? c.numLayers() * n * h * e : 0)
                    + forwardTransient(c, s.rows(), s.seq(), e, attn);
            if (ref > act) {
                act = ref;
            }
        }
        act = (long) (act * ACTIVATION_FACTOR);
        long chunk = Math.min(s.lossChunk(), n);
        long head = 4 * chunk * c.vocabSize() * 4 + 2 * n * h * 4 + (storage.half() ? (long) c.vocabSize() * h * 4 : 0);
        notes.add(String.format(
                Locale.ROOT, "loss head: %d-token chunks x vocab %d (training.loss_chunk_size)", chunk, c.vocabSize()));
        long overhead = s.cuda() ? CUDA_OVERHEAD : CPU_OVERHEAD;
        return new MemoryEstimate(weights, adapter, act, head, overhead, s.checkpointing(), storage.half(), notes);
    }

    /**
     * How the attention of one layer holds memory: {@code scores}, it keeps [rows, heads, seq, seq] scores (the
     * explicit computation, or SDPA's math fallback); {@code expandedKv}, k and v are repeated to the query heads
     * before a fused kernel (AttentionKernel).
     */
    record Attn(boolean scores, boolean expandedKv, boolean upcast) {
        /** The explicit computation: scores kept, k and v at their own head count. */
        static final Attn EXPLICIT = new Attn(true, false, false);

        Attn(boolean scores, boolean expandedKv) {
            this(scores, expandedKv, false);
        }
    }

    /** The dry-run line saying which attention kernel the estimate assumes and why. */
    private static String attentionNote(Shape s, boolean gqa, Attn attn) {
        if (!s.fusedAttention()) {
            return "attention: explicit (external libtorch): keeps one layer's [rows, heads, seq, seq] scores";
        }
        AttentionKernel.Backend b =
                AttentionKernel.select(s.cuda(), s.bf16() && !attn.upcast(), false, gqa && !attn.expandedKv());
        String kernel = (s.cuda() ? "CUDA " : "CPU ")
                + b.name().toLowerCase(Locale.ROOT).replace('_', '-');
        return "attention: " + kernel + " kernel, is_causal on right-padded rows"
                + (attn.upcast() ? ", in float32 on bf16 inputs" : "")
                + (attn.expandedKv() ? ", k/v repeated to the query heads" : "")
                + (attn.scores() ? ": keeps the scores" : ": no [rows, heads, seq, seq] scores");
    }

    /** Bytes one decoder layer keeps for backward (float32 activations of N tokens), explicit attention. */
    static long layerSaved(HfModelConfig c, LoraConfig lora, WeightStorage storage, int rows, int seq) {
        return layerSaved(c, lora, storage, rows, seq, 4);
    }

    /** As below, explicit attention. */
    static long layerSaved(HfModelConfig c, LoraConfig lora, WeightStorage storage, int rows, int seq, long e) {
        return layerSaved(c, lora, storage, rows, seq, e, Attn.EXPLICIT);
    }

    /**
     * Bytes one decoder layer keeps for backward, activations of {@code e} bytes (4: float32, 2: bf16 compute, where
     * the RMSNorms and the LoRA branch stay float32 and every frozen weight is cast to a bf16 copy per use).
     */
    static long layerSaved(
            HfModelConfig c, LoraConfig lora, WeightStorage storage, int rows, int seq, long e, Attn attn) {
        long n = (long) rows * seq;
        long h = c.hiddenSize();
        long inter = c.intermediateSize();
        long kvd = (long) (attn.expandedKv() ? c.numHeads() : c.numKvHeads()) * c.headDim();
        long b = 2 * n * h * 4 // two RMSNorms (input, normalised), float32 in every precision
                + 5 * n * h * e // q regrouped, attention output, residual, the norms' outputs cast back
                + 2 * n * kvd * e // k, v (repeated to the query heads when expanded)
                + 4 * n * inter * e // gate, silu(gate), up, their product
                + (attn.scores()
                        ? scores(c, rows, seq) * e // softmax output
                        : (long) rows * c.numHeads() * seq * 4); // the fused kernel's float32 logsumexp
        if (attn.upcast()) { // the kernel saves float32 q, k, v and its float32 output besides the bf16 one
            long qd = (long) c.numHeads() * c.headDim();
            b += n * qd * (4 - e) + 2 * n * kvd * (4 - e) + n * qd * 4;
        }
        for (String m : lora.targetModules()) {
            long in = m.equals("down_proj") ? inter : h;
            b += lora.dropout() > 0 ? n * in * 5 : 0; // dropout output (f32) and mask (bool)
            b += n * lora.r() * 4; // A x
        }
        if (e == 2) {
            b += layerParams(c) * 2; // the bf16 copies of the frozen weights that the matmuls saved
        } else if (storage.half()) {
            b += layerParams(c) * 4; // the float32 copies of 2-byte weights that the matmuls saved
        }
        return b;
    }

    static long scores(HfModelConfig c, int rows, int seq) {
        return (long) rows * c.numHeads() * seq * seq;
    }

    /** Extra bytes alive during one layer's backward: gradients of the scores and of the MLP intermediates. */
    static long layerTransient(HfModelConfig c, int rows, int seq) {
        return layerTransient(c, rows, seq, 4);
    }

    static long layerTransient(HfModelConfig c, int rows, int seq, long e) {
        return layerTransient(c, rows, seq, e, Attn.EXPLICIT);
    }

    /**
     * Extra bytes alive during one layer's backward: the attention's (explicit: gradients of the scores and the
     * probabilities; fused: dq, dk, dv at the query heads' width and a float32 dq accumulator) and the MLP's.
     */
    static long layerTransient(HfModelConfig c, int rows, int seq, long e, Attn attn) {
        long n = (long) rows * seq;
        long qd = (long) c.numHeads() * c.headDim();
        long a = attn.upcast() ? 4 : e;
        long attention = attn.scores() ? 2 * scores(c, rows, seq) * e : 3 * n * qd * a + n * qd * 4;
        return attention + 3 * n * c.intermediateSize() * e + 4 * n * c.hiddenSize() * e;
    }

    /**
     * Peak of one layer's forward without gradients: the attention's (explicit: scores, masked scores and
     * probabilities; fused: the output and repeated k, v), MLP intermediates.
     */
    static long forwardTransient(HfModelConfig c, int rows, int seq, long e, Attn attn) {
        long n = (long) rows * seq;
        long qd = (long) c.numHeads() * c.headDim();
        long attention = attn.scores() ? 3 * scores(c, rows, seq) * e : 3 * n * qd * (attn.upcast() ? 4 : e);
        return attention + 3 * n * c.intermediateSize() * e + 4 * n * c.hiddenSize() * e;
    }

    static long layerParams(HfModelConfig c) {
        long h = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        return h * q * 2 + h * kv * 2 + 3 * h * c.intermediateSize();
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / GIB);
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.0f MiB", bytes / (1024.0 * 1024));
    }

    /** The breakdown as report lines. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "estimated peak memory: %s%n", gib(total())));
        sb.append(String.format(Locale.ROOT, "  weights              %10s%n", gib(weights)));
        sb.append(String.format(Locale.ROOT, "  adapter + optimizer  %10s%n", gib(adapter)));
        sb.append(String.format(Locale.ROOT, "  activations          %10s%n", gib(activations)));
        sb.append(String.format(Locale.ROOT, "  loss head            %10s%n", gib(lossHead)));
        sb.append(String.format(Locale.ROOT, "  overhead             %10s%n", gib(overhead)));
        for (String note : notes) {
            sb.append("  ").append(note).append('\n');
        }
        return sb.toString();
    }
}
