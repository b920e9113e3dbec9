package dev.paft.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * Help for configs written for other tools: "did you mean" for mistyped keys (with the file's line),
 * and the common keys of flat TRL ({@code SFTConfig}/{@code DPOConfig}, transformers'
 * {@code TrainingArguments}, PEFT's {@code LoraConfig} fields as TRL's scripts name them) and axolotl
 * YAML files read as their paft equivalents.
 */
final class ConfigHints {
    /** Flat keys of TRL / transformers / axolotl configs and the paft key each one sets. */
    static final Map<String, String> FLAT = new LinkedHashMap<>();

    static {
        String[][] m = {
            {"model_name_or_path", "model.path"},
            {"base_model", "model.path"},
            {"tokenizer_name", "model.tokenizer"},
            {"tokenizer_config", "model.tokenizer"},
            {"output_dir", "training.output_dir"},
            {"learning_rate", "training.learning_rate"},
            {"num_train_epochs", "training.epochs"},
            {"num_epochs", "training.epochs"},
            {"max_steps", "training.max_steps"},
            {"per_device_train_batch_size", "training.batch_size"},
            {"micro_batch_size", "training.batch_size"},
            {"gradient_accumulation_steps", "training.grad_accum"},
            {"lr_scheduler_type", "training.scheduler"},
            {"lr_scheduler", "training.scheduler"},
            {"warmup_ratio", "training.warmup_ratio"},
            {"warmup_steps", "training.warmup_steps"},
            {"weight_decay", "training.weight_decay"},
            {"max_grad_norm", "training.max_grad_norm"},
            {"adam_beta1", "training.adam_beta1"},
            {"adam_beta2", "training.adam_beta2"},
            {"adam_epsilon", "training.adam_epsilon"},
            {"seed", "training.seed"},
            {"logging_steps", "training.log_steps"},
            {"save_steps", "training.save_steps"},
            {"eval_steps", "training.eval_steps"},
            {"save_total_limit", "training.save_total_limit"},
            {"gradient_checkpointing", "training.gradient_checkpointing"},
            {"max_length", "data.max_length"},
            {"max_seq_length", "data.max_length"},
            {"sequence_len", "data.max_length"},
            {"max_prompt_length", "data.max_prompt_length"},
            {"packing", "data.packing"},
            {"sample_packing", "data.packing"},
            {"chat_template", "data.chat_template"},
            {"train_file", "data.train"},
            {"validation_file", "data.eval"},
            {"completion_only_loss", "data.train_on_prompt!"},
            {"assistant_only_loss", "data.train_on_prompt!"},
            {"train_on_inputs", "data.train_on_prompt"},
            {"beta", "preference.beta"},
            {"loss_type", "preference.loss"},
            {"label_smoothing", "preference.label_smoothing"},
            {"precompute_ref_log_probs", "preference.precompute_ref"},
            {"lora_r", "lora.r"},
            {"lora_alpha", "lora.alpha"},
            {"lora_dropout", "lora.dropout"},
            {"lora_target_modules", "lora.target_modules"},
            {"use_rslora", "lora.use_rslora"},
        };
        for (String[] p : m) {
            FLAT.put(p[0], p[1]);
        }
    }

    private ConfigHints() {}

    /**
     * A flat TRL/axolotl config (no paft section at top level, some known flat keys) rewritten as
     * paft sections, or null when {@code user} is not one. Keys with no paft equivalent are named
     * in one warning and otherwise ignored.
     */
    static ObjectNode translateFlat(ObjectNode user, ObjectNode defaults, String source) {
        List<String> names = new ArrayList<>();
        user.fieldNames().forEachRemaining(names::add);
        if (names.stream().anyMatch(defaults::has) || names.stream().noneMatch(FLAT::containsKey)) {
            return null;
        }
        ObjectNode out = user.objectNode();
        List<String> ignored = new ArrayList<>();
        List<String> mapped = new ArrayList<>();
        for (String k : names) {
            JsonNode v = user.get(k);
            String target = FLAT.get(k);
            if (k.equals("datasets")
                    && v.isArray()
                    && v.size() == 1
                    && v.get(0).path("path").isTextual()) {
                target = "data.train"; // axolotl: datasets: [{path: ..., type: ...}]
                v = v.get(0).get("path");
            }
            if (target == null || v.isNull()) {
                ignored.add(k);
                continue;
            }
            if (target.endsWith("!")) { // a boolean with the opposite sense
                target = target.substring(0, target.length() - 1);
                v = user.booleanNode(!v.asBoolean());
            }
            String[] p = target.split("\\.");
            (out.has(p[0]) ? (ObjectNode) out.get(p[0]) : out.putObject(p[0])).set(p[1], v);
            mapped.add(k + " -> " + target);
        }
        String kind = names.contains("base_model") || names.contains("micro_batch_size") || names.contains("datasets")
                ? "an axolotl"
                : "a TRL/transformers";
        LoggerFactory.getLogger(ConfigLoader.class)
                .warn(
                        "{} is {} flat config; read {} of its keys as paft keys ({}){}",
                        source,
                        kind,
                        mapped.size(),
                        String.join(", ", mapped),
                        ignored.isEmpty()
                                ? ""
                                : "; ignored (no paft equivalent): " + String.join(", ", ignored)
                                        + ". See docs/USER-GUIDE.md, \"Coming from TRL or axolotl\"");
        return out;
    }

    /** " (did you mean 'lora.alpha'?)" for a mistyped key, or "". */
    static String didYouMean(String section, String key, Collection<String> known) {
        String flat = FLAT.get(key);
        if (flat != null && !flat.startsWith(section + ".")) {
            flat = null; // another section's key: leave it to the edit distance
        }
        if (flat == null && key.startsWith(section + "_")) { // lora_alpha under lora:
            String bare = key.substring(section.length() + 1);
            if (known.contains(bare)) {
                flat = section + "." + bare;
            }
        }
        if (flat != null && !flat.endsWith("!")) {
            return "; did you mean '" + flat + "'?";
        }
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(key, k);
            if (d < bestD) {
                bestD = d;
                best = k;
            }
        }
        return best != null && bestD <= Math.max(2, key.length() / 3)
                ? "; did you mean '" + (section.isEmpty() ? "" : section + ".") + best + "'?"
                : "";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(
                        Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** The 1-based line of the dotted mapping key {@code dotted} in a YAML or JSON file, or 0. */
    static int line(String source, String dotted) {
        Path file;
        try {
            file = Path.of(source);
        } catch (RuntimeException e) {
            return 0;
        }
        if (!Files.isRegularFile(file)) {
            return 0;
        }
        try (JsonParser p = Mappers.yaml().getFactory().createParser(file.toFile())) {
            Deque<String> path = new ArrayDeque<>();
            String pending = null;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                if (t == JsonToken.FIELD_NAME) {
                    pending = p.currentName();
                    String prefix = path.isEmpty() ? "" : String.join(".", reversed(path));
                    String full = prefix.isEmpty() ? pending : prefix + "." + pending;
                    if (full.equals(dotted)) {
                        return p.currentLocation().getLineNr();
                    }
                } else if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    path.push(pending == null ? "[]" : pending);
                    pending = null;
                } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    if (!path.isEmpty()) {
                        path.pop();
                    }
                } else {
                    pending = null;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    private static List<String> reversed(Deque<String> d) {
        List<String> l = new ArrayList<>();
        for (Iterator<String> it = d.descendingIterator(); it.hasNext(); ) {
            l.add(it.next());
        }
        return l.subList(1, l.size()); // the document's root mapping has no name
    }
}
