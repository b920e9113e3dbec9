package dev.paft.report;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Layer index and short type of a Hugging Face module name such as {@code model.layers.3.mlp.gate_proj}. */
final class ModuleNames {
    /** Report order of the Llama-family projection types. */
    static final List<String> TYPE_ORDER = List.of("q", "k", "v", "o", "gate", "up", "down");

    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)layers\\.(\\d+)\\.");

    private ModuleNames() {}

    /** The N of {@code layers.N.}, or -1. */
    static int layer(String module) {
        Matcher m = LAYER.matcher(module);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** {@code ...self_attn.q_proj} -> q, {@code ...mlp.down_proj} -> down, {@code lm_head} -> lm_head. */
    static String type(String module) {
        String last = module.substring(module.lastIndexOf('.') + 1);
        return last.endsWith("_proj") ? last.substring(0, last.length() - "_proj".length()) : last;
    }
}
