package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.config.LoraConfig;
import dev.paft.errors.PaftException;
import dev.paft.io.HfModelConfig;
import dev.paft.io.Json;
import dev.paft.train.TrainPlan;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Training's lora.target_modules under PEFT's rule: dotted entries select exactly the modules PEFT would. */
class LoraTargetsTest {
    // hidden 32, 2 layers, 4 heads of 8, 2 KV heads (v_proj out 16), MLP 64
    static final HfModelConfig C = HfModelConfig.parse(json("""
            {"architectures": ["LlamaForCausalLM"], "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64}"""), "config.json");

    static JsonNode json(String s) {
        try {
            return Json.MAPPER.readTree(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void dottedAndFullPathEntriesSelectWhatPeftSelects() {
        Map<String, long[]> m = HfNames.loraTargets(C, List.of("self_attn.v_proj", "model.layers.1.mlp.down_proj"));
        assertEquals(
                List.of(
                        "model.layers.0.self_attn.v_proj",
                        "model.layers.1.self_attn.v_proj",
                        "model.layers.1.mlp.down_proj"),
                List.copyOf(m.keySet()));
        assertArrayEquals(new long[] {16, 32}, m.get("model.layers.0.self_attn.v_proj"));
        assertArrayEquals(new long[] {32, 64}, m.get("model.layers.1.mlp.down_proj"));
        // r = 4: v_proj 4 * (16 + 32) = 192 twice, down_proj 4 * (32 + 64) = 384
        assertEquals(
                768,
                TrainPlan.trainableParams(
                        C,
                        new LoraConfig(4, 8, 0, List.of("self_attn.v_proj", "model.layers.1.mlp.down_proj"), false)));
        // short names as before: 2 layers x 7 modules
        assertEquals(14, HfNames.loraTargets(C, Proj.names()).size());
    }

    @Test
    void anEntryMatchingNothingIsAUsageError() {
        PaftException e = assertThrows(
                PaftException.class,
                () -> HfNames.loraTargets(C, List.of("q_proj", "model.layers.2.mlp.down_proj", "attn.q_proj")));
        assertEquals(PaftException.USAGE, e.exitCode());
        assertTrue(e.getMessage().contains("[model.layers.2.mlp.down_proj, attn.q_proj]"), e.getMessage());
    }
}
