package dev.paft.report;

/**
 * The statistics of one module's delta, e.g. {@code model.layers.3.self_attn.q_proj} with
 * {@code delta = B @ A} of shape [rows, cols] = [out, in].
 *
 * @param layer the decoder layer index, or -1 for modules outside {@code layers.N} (e.g. lm_head)
 * @param type short module type: q, k, v, o, gate, up, down (else the name's last part without "_proj")
 */
public record ModuleStats(
        String name, int layer, String type, int rows, int cols, DeltaStats unscaled, DeltaStats scaled)
        implements GroupStats {
    @Override
    public String key() {
        return name;
    }
}
