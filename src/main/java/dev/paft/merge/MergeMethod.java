package dev.paft.merge;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * One merge method under its mergekit name. As mergekit's {@code parameters()} and
 * {@code tensor_parameters()} (mergekit/merge_methods/base.py), a method declares its global and
 * per-input parameters by name with defaults (a null default means required) and validates their
 * values itself; it checks its input count apart from the math, and merges one tensor at a time.
 * Adding a method touches its own class and the registry ({@link MergeMethods}).
 */
public interface MergeMethod {
    String name();

    /** Global parameters and their defaults (null = required), in order; none by default. */
    default Map<String, Object> parameters() {
        return Map.of();
    }

    /** Per-input parameters and their defaults (null = required), in order; none by default. */
    default Map<String, Object> tensorParameters() {
        return Map.of();
    }

    /**
     * Parameters mergekit declares for this method that do not change its result here (e.g.
     * {@code density} and {@code rescale} on task_arithmetic, which sparsifies nothing). They are
     * accepted and named in the "no effect" warning, like parameters the method does not know.
     */
    default Set<String> inertParameters() {
        return Set.of();
    }

    /**
     * True when a {@code base_model} that is not listed under {@code models} is merged as one more
     * input (mergekit's planner appends it to every merge's inputs; for methods that use the base
     * as the base, this changes nothing).
     */
    default boolean baseIsAnInput() {
        return false;
    }

    /** True: inputs arrive as task vectors {@code d_i = model_i - base}; false: as whole models. */
    boolean usesDeltas();

    /** True when a base model is required. */
    boolean needsBase();

    /**
     * Checks one tensor's resolved parameters: {@code global} holds every parameter of
     * {@link #parameters()}, each of {@code perInput} every one of {@link #tensorParameters()}
     * (values filled in from the config or the defaults). Throws a usage error (exit 2) naming the
     * tensor, the input and the value.
     */
    void validate(Params global, List<Params> perInput);

    /** Checks the number of inputs (base excluded for delta methods); throws a usage error. */
    void validateInputs(int inputs);

    /**
     * Merges one tensor. {@code base} may be null (linear without base); {@code inputs[i]} is a
     * task vector or a model per {@link #usesDeltas()}. Arrays may be reused for the result.
     */
    float[] merge(MergeTensor t);

    /**
     * Working arrays of the tensor's length a method needs beyond the base and the inputs (karcher's
     * mean and tangent): taken from the executor's pool through {@link MergeTensor#scratch} and
     * counted in the memory budget. Default none.
     */
    default int scratchArrays() {
        return 0;
    }

    /**
     * For methods with a {@code rescale} parameter and random masks: true when {@code rescale: true}
     * means {@code 1/density} (paft's DARE rule) rather than mergekit's L1-norm preservation; the
     * written merge_config.yaml then records the rule under paft_parameters.
     */
    default boolean rescaleTrueIsDensity() {
        return false;
    }

    /**
     * One tensor's data and resolved parameters. {@code shape}: the tensor's shape (row-wise methods:
     * della's ranks, nuslerp without flattening, arcee_fusion's softmax, model_stock filter-wise);
     * {@code scratch}: arrays of that length from the executor's pool, at most
     * {@link #scratchArrays()} of them (contents undefined; given back after the write).
     */
    record MergeTensor(
            String name,
            long[] shape,
            float[] base,
            float[][] inputs,
            Params global,
            List<Params> perInput,
            long seed,
            IntFunction<float[]> scratch) {
        /** A flat tensor (one row) with freshly allocated scratch arrays. */
        public MergeTensor(
                String name, float[] base, float[][] inputs, Params global, List<Params> perInput, long seed) {
            this(
                    name,
                    new long[] {inputs.length > 0 ? inputs[0].length : base.length},
                    base,
                    inputs,
                    global,
                    perInput,
                    seed,
                    float[]::new);
        }

        /** Elements per row: the last dimension (the whole tensor when 0-d or 1-d). */
        public int rowLength() {
            return shape.length == 0 ? numel() : (int) shape[shape.length - 1];
        }

        public int numel() {
            return inputs.length > 0 ? inputs[0].length : base.length;
        }
    }
}
