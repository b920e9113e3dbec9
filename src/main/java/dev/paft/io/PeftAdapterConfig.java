package dev.paft.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The fields of a PEFT {@code adapter_config.json} for a LoRA adapter that paft reads and writes.
 *
 * <p>{@code scaling = lora_alpha / r}, or {@code lora_alpha / sqrt(r)} with rsLoRA. {@code target_modules}
 * is a list matched by PEFT's rule ({@link PeftTargets}); reading refuses (exit 3) what paft cannot apply:
 * DoRA, a regular-expression {@code target_modules}, {@code modules_to_save}, {@code bias} other than
 * "none", and {@code fan_in_fan_out}.
 *
 * <p>{@code rank_pattern} / {@code alpha_pattern} give some modules their own rank and alpha (what
 * {@code paft merge --lora-out} writes when it picks a rank per module): a module takes the value of
 * the first key {@code k} for which the regular expression {@code (.*\.)?(k)$} matches its whole name,
 * PEFT's {@code get_pattern_key} (peft/utils/other.py), else {@code r} / {@code lora_alpha}.
 */
public record PeftAdapterConfig(
        int r,
        double loraAlpha,
        double loraDropout,
        List<String> targetModules,
        boolean useRslora,
        String baseModelNameOrPath,
        Map<String, Integer> rankPattern,
        Map<String, Double> alphaPattern) {

    public PeftAdapterConfig {
        rankPattern = rankPattern == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = alphaPattern == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
    }

    /** One rank and alpha for every module (no patterns). */
    public PeftAdapterConfig(
            int r,
            double loraAlpha,
            double loraDropout,
            List<String> targetModules,
            boolean useRslora,
            String baseModelNameOrPath) {
        this(r, loraAlpha, loraDropout, targetModules, useRslora, baseModelNameOrPath, Map.of(), Map.of());
    }

    /** The scaling of a module without a pattern entry. */
    public double scaling() {
        return scaling(r, loraAlpha);
    }

    /** The rank of module {@code module} (its key in the base model, e.g. {@code model.layers.0.self_attn.q_proj}). */
    public int rank(String module) {
        String k = patternKey(rankPattern.keySet(), module);
        return k == null ? r : rankPattern.get(k);
    }

    /** The alpha of a module. */
    public double alpha(String module) {
        String k = patternKey(alphaPattern.keySet(), module);
        return k == null ? loraAlpha : alphaPattern.get(k);
    }

    /** The scaling of a module: its alpha over its rank (rsLoRA: over the rank's square root). */
    public double scaling(String module) {
        return scaling(rank(module), alpha(module));
    }

    private double scaling(int rank, double alpha) {
        return useRslora ? alpha / Math.sqrt(rank) : alpha / rank;
    }

    /** PEFT's {@code get_pattern_key}: the first key whose {@code (.*\.)?(key)$} matches the whole name, or null. */
    static String patternKey(Collection<String> keys, String module) {
        for (String k : keys) {
            if (Pattern.compile("(.*\\.)?(" + k + ")").matcher(module).matches()) {
                return k;
            }
        }
        return null;
    }

    public static PeftAdapterConfig read(Path adapterDir) {
        Path file = adapterDir.resolve("adapter_config.json");
        JsonNode c = Json.readObject(file);
        String type = c.path("peft_type").asText("");
        if (!type.equals("LORA")) {
            throw PaftException.badInput(file + ": peft_type = '" + type + "', only LORA adapters are supported");
        }
        if (!c.path("r").isIntegralNumber()
                || !c.path("r").canConvertToInt()
                || c.path("r").asInt() <= 0) {
            throw PaftException.badInput(file + ": 'r' must be a positive integer, got " + c.path("r"));
        }
        if (c.path("fan_in_fan_out").asBoolean(false)) {
            throw PaftException.badInput(file + ": fan_in_fan_out = true (GPT-2 Conv1D) is not supported");
        }
        if (c.path("use_dora").asBoolean(false)) {
            throw PaftException.badInput(file + ": use_dora = true (DoRA) is not supported");
        }
        if (!c.path("bias").asText("none").equals("none")) {
            throw PaftException.badInput(
                    file + ": bias = '" + c.path("bias").asText() + "' is not supported (only \"none\")");
        }
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        for (String key : List.of("rank_pattern", "alpha_pattern")) {
            JsonNode p = c.get(key);
            if (p == null || p.isNull()) {
                continue;
            }
            if (!p.isObject()) {
                throw PaftException.badInput(
                        file + ": '" + key + "' must be a mapping from module name patterns to numbers");
            }
            for (var it = p.fields(); it.hasNext(); ) {
                var e = it.next();
                JsonNode v = e.getValue();
                try {
                    Pattern.compile(e.getKey());
                } catch (PatternSyntaxException x) {
                    throw PaftException.badInput(
                            file + ": " + key + " key '" + e.getKey() + "' is not a regular expression");
                }
                if (key.equals("rank_pattern")) {
                    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() <= 0) {
                        throw PaftException.badInput(
                                file + ": rank_pattern['" + e.getKey() + "'] must be a positive integer, got " + v);
                    }
                    rankPattern.put(e.getKey(), v.asInt());
                } else {
                    if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
                        throw PaftException.badInput(
                                file + ": alpha_pattern['" + e.getKey() + "'] must be a number, got " + v);
                    }
                    alphaPattern.put(e.getKey(), v.asDouble());
                }
            }
        }
        if (c.hasNonNull("modules_to_save") && c.get("modules_to_save").size() > 0) {
            throw PaftException.badInput(file + ": modules_to_save = " + c.get("modules_to_save")
                    + " is not supported (paft adapters hold only LoRA factors)");
        }
        List<String> targets = new ArrayList<>();
        JsonNode t = c.get("target_modules");
        if (t != null && t.isArray()) {
            t.forEach(x -> targets.add(x.asText()));
        } else if (t != null && t.isTextual()) {
            throw PaftException.badInput(
                    file + ": target_modules as a regular expression is not supported; list the modules");
        }
        return new PeftAdapterConfig(
                c.get("r").asInt(),
                c.path("lora_alpha").asDouble(8),
                c.path("lora_dropout").asDouble(0),
                List.copyOf(targets),
                c.path("use_rslora").asBoolean(false),
                c.path("base_model_name_or_path").asText(null),
                rankPattern,
                alphaPattern);
    }

    /**
     * The JSON PEFT writes: exactly the keys of PEFT 0.10-0.12's {@code LoraConfig.to_dict()}
     * (newer PEFT adds keys with defaults and fills in missing ones; older versions load these).
     */
    public ObjectNode toJson() {
        ObjectNode c = Json.MAPPER.createObjectNode();
        ObjectNode ap = c.putObject("alpha_pattern");
        alphaPattern.forEach((k, v) -> {
            if (v == Math.rint(v)) {
                ap.put(k, (long) (double) v);
            } else {
                ap.put(k, v);
            }
        });
        c.put("auto_mapping", (String) null);
        c.put("base_model_name_or_path", baseModelNameOrPath);
        c.put("bias", "none");
        c.put("fan_in_fan_out", false);
        c.put("inference_mode", true);
        c.put("init_lora_weights", true);
        c.putNull("layer_replication");
        c.putNull("layers_pattern");
        c.putNull("layers_to_transform");
        c.putObject("loftq_config");
        if (loraAlpha == Math.rint(loraAlpha)) {
            c.put("lora_alpha", (long) loraAlpha); // PEFT writes integral alphas as integers
        } else {
            c.put("lora_alpha", loraAlpha);
        }
        c.put("lora_dropout", loraDropout);
        c.putNull("megatron_config");
        c.put("megatron_core", "megatron.core");
        c.putNull("modules_to_save");
        c.put("peft_type", "LORA");
        c.put("r", r);
        ObjectNode rp = c.putObject("rank_pattern");
        rankPattern.forEach(rp::put);
        c.putNull("revision");
        var arr = c.putArray("target_modules");
        targetModules.forEach(arr::add);
        c.put("task_type", "CAUSAL_LM");
        c.put("use_dora", false);
        c.put("use_rslora", useRslora);
        return c;
    }
}
