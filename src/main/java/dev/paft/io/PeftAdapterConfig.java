package dev.paft.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields of a PEFT {@code adapter_config.json} for a LoRA adapter that paft reads and writes.
 *
 * <p>{@code scaling = lora_alpha / r}, or {@code lora_alpha / sqrt(r)} with rsLoRA. {@code target_modules}
 * is a list matched by PEFT's rule ({@link PeftTargets}); reading refuses (exit 3) what paft cannot apply:
 * DoRA, {@code rank_pattern}/{@code alpha_pattern}, a regular-expression {@code target_modules},
 * {@code modules_to_save}, {@code bias} other than "none", and {@code fan_in_fan_out}.
 */
public record PeftAdapterConfig(int r, double loraAlpha, double loraDropout, List<String> targetModules,
                                boolean useRslora, String baseModelNameOrPath) {

    public double scaling() {
        return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
    }

    public static PeftAdapterConfig read(Path adapterDir) {
        Path file = adapterDir.resolve("adapter_config.json");
        JsonNode c = Json.readObject(file);
        String type = c.path("peft_type").asText("");
        if (!type.equals("LORA")) {
            throw PaftException.badInput(file + ": peft_type = '" + type + "', only LORA adapters are supported");
        }
        if (!c.path("r").isIntegralNumber() || !c.path("r").canConvertToInt() || c.path("r").asInt() <= 0) {
            throw PaftException.badInput(file + ": 'r' must be a positive integer, got " + c.path("r"));
        }
        if (c.path("fan_in_fan_out").asBoolean(false)) {
            throw PaftException.badInput(file + ": fan_in_fan_out = true (GPT-2 Conv1D) is not supported");
        }
        if (c.path("use_dora").asBoolean(false)) {
            throw PaftException.badInput(file + ": use_dora = true (DoRA) is not supported");
        }
        if (!c.path("bias").asText("none").equals("none")) {
            throw PaftException.badInput(file + ": bias = '" + c.path("bias").asText() + "' is not supported (only \"none\")");
        }
        if (c.hasNonNull("rank_pattern") && c.get("rank_pattern").size() > 0
                || c.hasNonNull("alpha_pattern") && c.get("alpha_pattern").size() > 0) {
            throw PaftException.badInput(file + ": rank_pattern / alpha_pattern are not supported");
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
            throw PaftException.badInput(file + ": target_modules as a regular expression is not supported; list the modules");
        }
        return new PeftAdapterConfig(c.get("r").asInt(), c.path("lora_alpha").asDouble(8), c.path("lora_dropout").asDouble(0),
                List.copyOf(targets), c.path("use_rslora").asBoolean(false), c.path("base_model_name_or_path").asText(null));
    }

    /**
     * The JSON PEFT writes: exactly the keys of PEFT 0.10-0.12's {@code LoraConfig.to_dict()}
     * (newer PEFT adds keys with defaults and fills in missing ones; older versions load these).
     */
    public ObjectNode toJson() {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.putObject("alpha_pattern");
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
        c.putObject("rank_pattern");
        c.putNull("revision");
        var arr = c.putArray("target_modules");
        targetModules.forEach(arr::add);
        c.put("task_type", "CAUSAL_LM");
        c.put("use_dora", false);
        c.put("use_rslora", useRslora);
        return c;
    }
}
