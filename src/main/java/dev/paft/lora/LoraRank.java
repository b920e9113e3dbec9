package dev.paft.lora;

import dev.paft.config.LoraConfig;
import dev.paft.errors.PaftException;
import java.util.Arrays;
import java.util.Map;

/**
 * The bound on the LoRA rank: {@code rank(B A) <= min(out, in)} for a module {@code W [out, in]}, so
 * {@code r} above the smallest targeted module's {@code min(out, in)} adds parameters (and memory,
 * {@code r * (in + out)} per module) that cannot change what the adapter can express.
 */
public final class LoraRank {
    private LoraRank() {}

    /**
     * A usage error (exit 2) naming {@code lora.r}, the module and its shape when {@code r} exceeds
     * {@code min(out, in)} of any targeted module.
     *
     * @param modules targeted module key -> base shape [out, in]
     */
    public static void check(LoraConfig lora, Map<String, long[]> modules) {
        for (var e : modules.entrySet()) {
            long bound = Math.min(e.getValue()[0], e.getValue()[1]);
            if (lora.r() > bound) {
                throw PaftException.usage("lora.r = " + lora.r() + " exceeds the rank of module '" + e.getKey() + "' "
                        + Arrays.toString(e.getValue()) + ": r must be at most min(out, in) = " + bound);
            }
        }
    }
}
