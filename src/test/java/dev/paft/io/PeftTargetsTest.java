package dev.paft.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** PEFT's check_target_module_exists for a list: key == entry or key ends with "." + entry (hand-checked cases). */
class PeftTargetsTest {
    static final String Q0 = "model.layers.0.self_attn.q_proj";

    @Test
    void entryMatchesTheWholeNameOrADottedSuffix() {
        for (String t : List.of("q_proj", "self_attn.q_proj", "layers.0.self_attn.q_proj", Q0)) {
            assertTrue(PeftTargets.matches(t, Q0), t);
        }
        // not at a dot boundary, another layer, another module, longer than the key
        for (String t : List.of(
                "proj",
                "_proj",
                "attn.q_proj",
                "0.self_attn.q_proj.x",
                "layers.1.self_attn.q_proj",
                "k_proj",
                "mlp.q_proj",
                "base_model.model." + Q0,
                "")) {
            assertFalse(PeftTargets.matches(t, Q0), t);
        }
        // layer 1 does not name layer 11 (suffix ".1.mlp.down_proj" vs "11.mlp.down_proj")
        assertFalse(PeftTargets.matches("layers.1.mlp.down_proj", "model.layers.11.mlp.down_proj"));
        assertTrue(PeftTargets.matches("1.mlp.down_proj", "model.layers.1.mlp.down_proj"));
        assertFalse(PeftTargets.matches("1.mlp.down_proj", "model.layers.11.mlp.down_proj"));
    }

    @Test
    void listAndUnmatchedEntries() {
        List<String> keys = List.of(Q0, "model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj");
        List<String> targets =
                List.of("self_attn.q_proj", "model.layers.1.mlp.down_proj", "model.layers.9.mlp.down_proj");
        assertTrue(PeftTargets.matches(targets, Q0));
        assertFalse(PeftTargets.matches(targets, "model.layers.0.mlp.down_proj"));
        assertTrue(PeftTargets.matches(targets, "model.layers.1.mlp.down_proj"));
        assertEquals(List.of("model.layers.9.mlp.down_proj"), PeftTargets.unmatched(targets, keys));
    }
}
