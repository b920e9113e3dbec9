/**
 * Merging task vectors into a base: the {@link dev.paft.merge.MergeMethod} registry (mergekit's
 * names and semantics), sparsifiers, per-tensor parameter resolution (scalars, layer gradients,
 * name filters), the mergekit YAML reader and the streaming runner that writes a HF model dir.
 *
 * <p>Import contract: floor 4; may import errors, io, config, data.
 */
package dev.paft.merge;
