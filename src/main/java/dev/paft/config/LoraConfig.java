package dev.paft.config;

import java.util.List;

/**
 * LoRA adapter shape: {@code y = W x + scaling * B A dropout(x)}, {@code scaling = alpha / r}
 * ({@code alpha / sqrt(r)} with rsLoRA).
 */
public record LoraConfig(int r, double alpha, double dropout, List<String> targetModules, boolean useRslora) {
    public static final List<String> MODULES =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    public double scaling() {
        return useRslora ? alpha / Math.sqrt(r) : alpha / r;
    }

    void validate(Validator v) {
        v.check("lora.r", r >= 1, "must be >= 1", r);
        v.check("lora.alpha", alpha > 0 && Double.isFinite(alpha), "must be > 0", alpha);
        v.check("lora.dropout", dropout >= 0 && dropout < 1, "must be in [0, 1)", dropout);
        v.check(
                "lora.target_modules",
                targetModules != null && !targetModules.isEmpty(),
                "must name at least one module",
                targetModules);
        if (targetModules != null) {
            for (String m : targetModules) {
                // PEFT's rule (a module is targeted when its name equals the entry or ends with "." + entry):
                // "q_proj", "self_attn.q_proj" and "model.layers.0.self_attn.q_proj" are all valid entries.
                String leaf = m == null ? "" : m.substring(m.lastIndexOf('.') + 1);
                v.check(
                        "lora.target_modules",
                        MODULES.contains(leaf),
                        "unknown module '" + m + "' (known: " + MODULES
                                + ", or a dotted path ending in one, e.g. self_attn.q_proj or model.layers.0.mlp.down_proj)",
                        m);
            }
        }
    }
}
