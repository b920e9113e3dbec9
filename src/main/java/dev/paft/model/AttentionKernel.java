package dev.paft.model;

/**
 * Which kernel libtorch 2.7.1's {@code scaled_dot_product_attention} runs for a call, and whether it materialises
 * the [B, H, T, S] scores: the selection rules read in PyTorch v2.7.1 and checked against the strings and symbols
 * of the libtorch this project loads (docs/BENCHMARKS.md, "Fused attention"). The model uses them to shape its call
 * so that a fused kernel accepts it ({@link #expandKv}); the memory estimate uses them to count scores only where
 * they exist ({@link #materialisesScores}).
 *
 * <ul>
 *   <li><b>CPU</b> ({@code sdp_utils_cpp.cpp}, {@code select_sdp_backend_cpp}): flash, then math. {@code
 *       use_flash_attention_cpp} accepts an explicit additive mask ({@code check_attn_mask_shape}), is_causal,
 *       float32, float64, bf16 and fp16, but not grouped-query heads: its list holds {@code
 *       check_batch_size_and_num_heads_dense<false>} (query, key and value must have the same head count).</li>
 *   <li><b>CUDA</b> ({@code cuda/sdp_utils.cpp}, {@code select_sdp_backend}; default order flash, memory-efficient,
 *       math, cuDNN from {@code Context.h}, so cuDNN is never reached while math is enabled): {@code
 *       can_use_flash_attention} rejects any explicit mask ({@code check_for_attn_mask}) and float32 ({@code
 *       check_dtypes_low_precision}: fp16, bf16 on sm80+), accepts is_causal with T == S and grouped-query heads
 *       ({@code check_batch_size_and_num_heads_dense<true>}); {@code can_use_mem_efficient_attention} accepts a
 *       mask, is_causal, float32 and bf16 (sm80+), but not grouped-query heads ({@code
 *       check_batch_size_and_num_heads_dense<false>}).</li>
 *   <li><b>math</b> ({@code attention.cpp}, {@code _scaled_dot_product_attention_math}): casts bf16/fp16 q, k, v to
 *       float32, repeats k and v to the query heads, computes the [B, H, T, S] scores, adds the mask in place and
 *       keeps the softmax for backward: float32 scores whatever the input dtype.</li>
 * </ul>
 * Assumes an sm80+ GPU (A100, H100, H200); older GPUs reject bf16 in both fused kernels.
 */
public final class AttentionKernel {
    private AttentionKernel() {}

    /** The SDPA backends of libtorch 2.7.1 that matter here. */
    public enum Backend {
        FLASH,
        MEMORY_EFFICIENT,
        MATH
    }

    /**
     * The backend libtorch 2.7.1 selects.
     *
     * @param cuda on a CUDA device (else the CPU)
     * @param lowPrecision q, k, v in bf16 (or fp16); false for float32
     * @param masked an explicit attention mask is passed (false: is_causal or nothing)
     * @param groupedHeads k and v have fewer heads than q (enable_gqa)
     */
    public static Backend select(boolean cuda, boolean lowPrecision, boolean masked, boolean groupedHeads) {
        if (!cuda) {
            return groupedHeads ? Backend.MATH : Backend.FLASH;
        }
        if (lowPrecision && !masked) {
            return Backend.FLASH;
        }
        return groupedHeads ? Backend.MATH : Backend.MEMORY_EFFICIENT;
    }

    /**
     * Whether to repeat k and v to the query heads before the call: when grouped-query heads alone would send the
     * call to math (CPU always; CUDA with a mask or in float32). The copies are [B, H, S, D] each, S/D times smaller
     * than the scores math would keep (2048/128 = 16 at the Mistral-7B shape), and the call then runs fused.
     */
    public static boolean expandKv(boolean cuda, boolean lowPrecision, boolean masked, boolean groupedHeads) {
        return groupedHeads
                && select(cuda, lowPrecision, masked, true) == Backend.MATH
                && select(cuda, lowPrecision, masked, false) != Backend.MATH;
    }

    /**
     * Whether this process will run the fused attention: false when the environment names an external libtorch
     * ({@code PYTORCH_LIBRARY_PATH}: TorchBootstrap's external mode, DJL alone, explicit attention). For the
     * {@code --dry-run} estimate, which loads no engine.
     */
    public static boolean fusedExpected() {
        String env = System.getenv("PYTORCH_LIBRARY_PATH");
        return env == null || env.isBlank();
    }

    /**
     * Whether to run the kernel in float32 on bf16 q, k, v (cast up, the output cast back; the casts keep autograd):
     * on the CPU, where libtorch 2.7.1's flash kernel is 3.3x slower in bf16 than in float32 for one forward +
     * backward at the Mistral-7B attention shape (8.6 s against 2.6 s, docs/BENCHMARKS.md, "Fused attention"). The
     * float32 copies are [B, H, T, D]; the math fallback the old call reached computed in float32 too.
     */
    public static boolean upcast(boolean cuda, boolean lowPrecision) {
        return !cuda && lowPrecision;
    }

    /**
     * Whether the model's attention keeps [B, H, T, S] scores: the explicit computation (no bridge: {@code fused}
     * false) or a call that lands on math. The model expands k and v where that avoids math, so with the bridge no
     * shape it produces does.
     */
    public static boolean materialisesScores(boolean fused, boolean cuda, boolean lowPrecision, boolean masked) {
        return !fused || select(cuda, lowPrecision, masked, false) == Backend.MATH;
    }
}
