package dev.paft.io;

import java.util.Collection;
import java.util.List;

/**
 * PEFT's rule for a list of {@code target_modules}: a module key (its name in the base model, such as
 * {@code model.layers.0.self_attn.q_proj}) is targeted when it equals an entry or ends with
 * {@code "." + entry}. So {@code q_proj}, {@code self_attn.q_proj} and
 * {@code model.layers.0.self_attn.q_proj} are all valid entries, while {@code proj} or
 * {@code attn.q_proj} match nothing (PEFT's {@code check_target_module_exists}). The one place that
 * decides which modules a LoRA config names: training, adapter loading and the dry-run plan use it.
 */
public final class PeftTargets {
    private PeftTargets() {}

    /** Whether {@code key} is named by {@code targets} under PEFT's rule. */
    public static boolean matches(Collection<String> targets, String key) {
        for (String t : targets) {
            if (matches(t, key)) {
                return true;
            }
        }
        return false;
    }

    /** Whether one entry names {@code key}: equal, or a suffix that starts at a dot. */
    public static boolean matches(String target, String key) {
        return key.equals(target) || key.endsWith("." + target);
    }

    /** The entries of {@code targets} that name none of {@code keys}. */
    public static List<String> unmatched(Collection<String> targets, Collection<String> keys) {
        return targets.stream()
                .filter(t -> keys.stream().noneMatch(k -> matches(t, k)))
                .toList();
    }
}
