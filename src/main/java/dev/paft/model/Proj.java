package dev.paft.model;

import dev.paft.io.HfModelConfig;
import java.util.Arrays;
import java.util.List;

/** The seven linear projections of a decoder layer, with their Hugging Face / PEFT module names. */
public enum Proj {
    Q("self_attn", "q_proj"),
    K("self_attn", "k_proj"),
    V("self_attn", "v_proj"),
    O("self_attn", "o_proj"),
    GATE("mlp", "gate_proj"),
    UP("mlp", "up_proj"),
    DOWN("mlp", "down_proj");

    /** Parent block in the HF module tree ("self_attn" or "mlp"). */
    public final String block;
    /** HF / PEFT target-module name ("q_proj", ...). */
    public final String hfName;

    Proj(String block, String hfName) {
        this.block = block;
        this.hfName = hfName;
    }

    /** The projection called {@code hfName}, or null. */
    public static Proj of(String hfName) {
        for (Proj p : values()) {
            if (p.hfName.equals(hfName)) {
                return p;
            }
        }
        return null;
    }

    /** All HF names, in layer order. */
    public static List<String> names() {
        return Arrays.stream(values()).map(p -> p.hfName).toList();
    }

    /** Projection weight shape [out, in] for a config. */
    public long[] shape(HfModelConfig c) {
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        return switch (this) {
            case Q -> new long[] {q, c.hiddenSize()};
            case K, V -> new long[] {kv, c.hiddenSize()};
            case O -> new long[] {c.hiddenSize(), q};
            case GATE, UP -> new long[] {c.intermediateSize(), c.hiddenSize()};
            case DOWN -> new long[] {c.hiddenSize(), c.intermediateSize()};
        };
    }
}
