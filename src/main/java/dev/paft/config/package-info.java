/**
 * Immutable records for every setting, loaded from YAML or JSON with precedence
 * flag &gt; {@code --set} &gt; file &gt; bundled defaults; unknown keys, wrong types and
 * out-of-range values fail with exit 2 naming the key and file. Enum-valued keys are bound at load time.
 *
 * <p>Import contract: floor 2; may import errors, io.
 */
package dev.paft.config;
