package dev.paft.io;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.errors.PaftException;
import java.util.List;

/**
 * The value checks of a {@code config.json} beyond the sizes {@link HfModelConfig} reads: each key
 * paft computes with must hold a value paft implements, and each feature it does not implement must
 * be off. A violation is bad input (exit 3) naming the key; an unimplemented feature says
 * "not supported" rather than being computed as something else.
 */
final class ModelConfigChecks {
    /** The activations paft's MLP computes: {@code silu(x) = x * sigmoid(x)} (transformers' "swish" is the same). */
    static final List<String> ACTIVATIONS = List.of("silu", "swish");

    private ModelConfigChecks() {}

    /** Checks the keys that select features (activation, biases, soft-capping, partial rotary). */
    static void check(JsonNode c, String where) {
        for (String key : new String[] {"hidden_act", "hidden_activation"}) {
            JsonNode act = c.get(key);
            if (act != null && !act.isNull()) {
                if (!act.isTextual()) {
                    throw PaftException.badInput(where + ": '" + key + "' must be a string, got " + act);
                }
                if (!ACTIVATIONS.contains(act.asText())) {
                    throw PaftException.badInput(
                            where + ": " + key + " '" + act.asText() + "' is not supported (paft implements silu)");
                }
            }
        }
        for (String key : new String[] {"tie_word_embeddings", "attention_bias", "mlp_bias", "use_sliding_window"}) {
            JsonNode v = c.get(key);
            if (v != null && !v.isNull() && !v.isBoolean()) {
                throw PaftException.badInput(where + ": '" + key + "' must be true or false, got " + v);
            }
        }
        if (c.path("mlp_bias").asBoolean(false)) {
            throw PaftException.badInput(where + ": mlp_bias true is not supported (paft's MLP has no biases)");
        }
        for (String key : new String[] {"attn_logit_softcapping", "final_logit_softcapping"}) {
            if (c.hasNonNull(key)) {
                throw PaftException.badInput(where + ": " + key + " is not supported");
            }
        }
        JsonNode prf = c.get("partial_rotary_factor");
        if (prf != null && !prf.isNull() && !(prf.isNumber() && prf.asDouble() == 1.0)) {
            throw PaftException.badInput(
                    where + ": partial_rotary_factor " + prf + " is not supported (paft rotates the whole head)");
        }
        JsonNode mpe = c.get("max_position_embeddings");
        if (mpe != null && !mpe.isNull() && !(mpe.isIntegralNumber() && mpe.canConvertToInt() && mpe.asInt() > 0)) {
            throw PaftException.badInput(where + ": 'max_position_embeddings' must be a positive integer, got " + mpe);
        }
    }

    /** A finite positive number, or {@code fallback} when the key is absent or null. */
    static double positive(JsonNode c, String key, double fallback, String where) {
        return positive(c, "", key, fallback, where);
    }

    private static double positive(JsonNode c, String parent, String key, double fallback, String where) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber() || !Double.isFinite(v.asDouble()) || !(v.asDouble() > 0)) {
            throw PaftException.badInput(where + ": '" + parent + key + "' must be a positive number, got " + v);
        }
        return v.asDouble();
    }

    /**
     * Llama-3 {@code rope_scaling}: {@code factor > 0}, {@code 0 < low_freq_factor < high_freq_factor} (the ramp
     * divides by their difference), {@code original_max_position_embeddings > 0}.
     */
    static HfModelConfig.RopeScaling llama3Scaling(JsonNode rs, String where) {
        double factor = positive(rs, "rope_scaling.", "factor", 8, where);
        double low = positive(rs, "rope_scaling.", "low_freq_factor", 1, where);
        double high = positive(rs, "rope_scaling.", "high_freq_factor", 4, where);
        if (!(high > low)) {
            throw PaftException.badInput(where + ": rope_scaling.high_freq_factor (" + high
                    + ") must be above low_freq_factor (" + low + ")");
        }
        JsonNode orig = rs.get("original_max_position_embeddings");
        int original = 8192;
        if (orig != null && !orig.isNull()) {
            if (!orig.isIntegralNumber() || !orig.canConvertToInt() || orig.asInt() <= 0) {
                throw PaftException.badInput(where
                        + ": 'rope_scaling.original_max_position_embeddings' must be a positive integer, got " + orig);
            }
            original = orig.asInt();
        }
        return new HfModelConfig.RopeScaling("llama3", factor, low, high, original);
    }
}
