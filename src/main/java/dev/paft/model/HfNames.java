package dev.paft.model;

import dev.paft.errors.PaftException;
import dev.paft.io.HfModelConfig;
import dev.paft.io.PeftTargets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place that spells Hugging Face checkpoint keys of the Llama family
 * ({@code model.layers.{i}.self_attn.q_proj.weight}, ...) and PEFT module keys
 * ({@code model.layers.{i}.self_attn.q_proj}).
 */
public final class HfNames {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";
    /** Buffers some old checkpoints carry; recomputed, so ignored on load. */
    public static final String ROTARY_BUFFER_SUFFIX = "rotary_emb.inv_freq";

    private HfNames() {}

    public static String layer(int i) {
        return "model.layers." + i + ".";
    }

    /** PEFT module key of a projection: {@code model.layers.3.self_attn.q_proj}. */
    public static String module(int layer, Proj p) {
        return layer(layer) + p.block + "." + p.hfName;
    }

    public static String weight(int layer, Proj p) {
        return module(layer, p) + ".weight";
    }

    public static String bias(int layer, Proj p) {
        return module(layer, p) + ".bias";
    }

    public static String inputNorm(int layer) {
        return layer(layer) + "input_layernorm.weight";
    }

    public static String postAttentionNorm(int layer) {
        return layer(layer) + "post_attention_layernorm.weight";
    }

    /** Every tensor a checkpoint of this config must hold, with its shape, in HF order. */
    public static Map<String, long[]> expectedTensors(HfModelConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(EMBED, new long[] {c.vocabSize(), c.hiddenSize()});
        for (int i = 0; i < c.numLayers(); i++) {
            for (Proj p : Proj.values()) {
                m.put(weight(i, p), p.shape(c));
            }
            if (c.attentionBias()) {
                for (Proj p : List.of(Proj.Q, Proj.K, Proj.V)) {
                    m.put(bias(i, p), new long[] {p.shape(c)[0]});
                }
            }
            m.put(inputNorm(i), new long[] {c.hiddenSize()});
            m.put(postAttentionNorm(i), new long[] {c.hiddenSize()});
        }
        m.put(FINAL_NORM, new long[] {c.hiddenSize()});
        if (!c.tieWordEmbeddings()) {
            m.put(LM_HEAD, new long[] {c.vocabSize(), c.hiddenSize()});
        }
        return m;
    }

    /**
     * The LoRA-adaptable modules of a config restricted to {@code targets} (PEFT {@code target_modules}
     * entries such as "q_proj", "self_attn.q_proj" or "model.layers.0.mlp.down_proj", matched by
     * {@link PeftTargets}), keyed by PEFT module key, with the base weight shape [out, in].
     */
    public static Map<String, long[]> loraModules(HfModelConfig c, List<String> targets) {
        Map<String, long[]> m = new LinkedHashMap<>();
        for (int i = 0; i < c.numLayers(); i++) {
            for (Proj p : Proj.values()) {
                if (PeftTargets.matches(targets, module(i, p))) {
                    m.put(module(i, p), p.shape(c));
                }
            }
        }
        return m;
    }

    /**
     * {@link #loraModules} for a training config's {@code lora.target_modules}: every entry must name at
     * least one module (PEFT only fails when none does; paft also refuses a typo such as
     * {@code model.layers.99.mlp.down_proj} on a 32-layer model). Usage error (exit 2) naming the entries.
     */
    public static Map<String, long[]> loraTargets(HfModelConfig c, List<String> targets) {
        List<String> unmatched =
                PeftTargets.unmatched(targets, loraModules(c, Proj.names()).keySet());
        if (!unmatched.isEmpty()) {
            throw PaftException.usage("lora.target_modules " + unmatched + " match no module of the base model ("
                    + c.numLayers() + " layers; module names look like " + module(0, Proj.Q) + ")");
        }
        return loraModules(c, targets);
    }
}
