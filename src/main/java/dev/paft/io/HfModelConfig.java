package dev.paft.io;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.errors.PaftException;
import java.nio.file.Path;
import java.util.List;

/**
 * The architecture fields of a Hugging Face {@code config.json} for the Llama family
 * (Llama, Mistral, Qwen2): sizes, grouped-query heads, rotary settings, tying and biases.
 *
 * @param attentionBias q/k/v projections carry biases (Qwen2 always; Llama with {@code attention_bias})
 * @param ropeScaling Llama-3 style scaling, or null
 * @param raw the whole file, kept to copy it unchanged into merged models
 */
public record HfModelConfig(
        String architecture,
        String modelType,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        int maxPositionEmbeddings,
        String torchDtype,
        JsonNode raw) {

    /** Architectures paft can load. */
    public static final List<String> SUPPORTED = List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");

    /** Llama-3 {@code rope_scaling} ({@code rope_type: llama3}). */
    public record RopeScaling(
            String type,
            double factor,
            double lowFreqFactor,
            double highFreqFactor,
            int originalMaxPositionEmbeddings) {}

    public static HfModelConfig read(Path modelDir) {
        Path file = modelDir.resolve("config.json");
        return parse(Json.readObject(file), file.toString());
    }

    public static HfModelConfig parse(JsonNode c, String where) {
        JsonNode archs = c.get("architectures");
        String arch = archs != null
                        && archs.isArray()
                        && archs.size() > 0
                        && archs.get(0).isTextual()
                ? archs.get(0).asText()
                : null;
        if (arch == null) {
            throw PaftException.badInput(where + ": missing 'architectures' (expected e.g. [\"LlamaForCausalLM\"])");
        }
        if (!SUPPORTED.contains(arch)) {
            throw PaftException.badInput(
                    where + ": architectures = " + arch + " is not supported (supported: " + SUPPORTED + ")");
        }
        int hidden = reqInt(c, "hidden_size", where);
        int heads = reqInt(c, "num_attention_heads", where);
        int kvHeads = c.hasNonNull("num_key_value_heads") ? reqInt(c, "num_key_value_heads", where) : heads;
        int headDim = c.hasNonNull("head_dim") ? reqInt(c, "head_dim", where) : hidden / heads;
        if (heads % kvHeads != 0) {
            throw PaftException.badInput(
                    where + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (!c.hasNonNull("head_dim") && hidden % heads != 0) {
            throw PaftException.badInput(
                    where + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        if (headDim % 2 != 0) {
            throw PaftException.badInput(
                    where + ": head_dim " + headDim + " is odd; rotary embeddings rotate pairs of dimensions");
        }
        ModelConfigChecks.check(c, where);
        RopeScaling scaling = null;
        JsonNode rs = c.get("rope_scaling");
        if (rs != null && rs.isObject()) {
            String type = rs.has("rope_type")
                    ? rs.get("rope_type").asText()
                    : rs.path("type").asText("");
            if (!type.equals("llama3") && !type.equals("default")) {
                throw PaftException.badInput(
                        where + ": rope_scaling type '" + type + "' is not supported (supported: llama3)");
            }
            if (type.equals("llama3")) {
                scaling = ModelConfigChecks.llama3Scaling(rs, where);
            }
        } else if (rs != null && !rs.isNull()) {
            throw PaftException.badInput(where + ": 'rope_scaling' must be an object or null, got " + rs);
        }
        boolean qwen = arch.equals("Qwen2ForCausalLM");
        return new HfModelConfig(
                arch,
                c.path("model_type").asText(""),
                reqInt(c, "vocab_size", where),
                hidden,
                reqInt(c, "intermediate_size", where),
                reqInt(c, "num_hidden_layers", where),
                heads,
                kvHeads,
                headDim,
                ModelConfigChecks.positive(c, "rms_norm_eps", 1e-6, where),
                ModelConfigChecks.positive(c, "rope_theta", 10000.0, where),
                scaling,
                c.path("tie_word_embeddings").asBoolean(false),
                qwen || c.path("attention_bias").asBoolean(false),
                c.path("max_position_embeddings").asInt(2048),
                c.path("torch_dtype").asText(c.path("dtype").asText("float32")),
                c);
    }

    private static int reqInt(JsonNode c, String key, String where) {
        JsonNode v = c.get(key);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0) {
            throw PaftException.badInput(
                    where + ": '" + key + "' must be a positive integer" + (v == null ? " (missing)" : ", got " + v));
        }
        return v.asInt();
    }
}
