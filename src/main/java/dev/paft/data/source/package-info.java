/**
 * Dataset records from the files people have: {@link dev.paft.data.source.DatasetFiles} resolves
 * a path (file, glob, {@code save_to_disk} directory, Hub snapshot) and a split to data files and
 * opens each with one {@link dev.paft.data.source.RecordSource} per format (JSON Lines, JSON
 * arrays, gzip, Parquet and CSV through DuckDB, Arrow IPC through Apache Arrow Java); every row is
 * a JSON object with its location. {@link dev.paft.data.source.RecordSchema} maps ShareGPT,
 * Alpaca, preference variants and {@code data.fields} column mappings to the TRL-shaped records
 * the SFT and preference readers take. See docs/USER-GUIDE.md, "Datasets".
 *
 * <p>Import contract: floor 3; may import errors, io, config, data.
 */
package dev.paft.data.source;
