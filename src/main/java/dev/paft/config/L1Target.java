package dev.paft.config;

/**
 * {@code sft.l1_target}: what PAFT's L1 penalty measures. {@link #FACTORS}: {@code sum |A| + |B|} over the adapter
 * tensors (the paper's delta_sft as adapter parameters); {@link #DELTA}: {@code sum_m ||scaling * B_m @ A_m||_1}.
 */
public enum L1Target {
    FACTORS,
    DELTA
}
