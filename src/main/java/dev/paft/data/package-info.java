/**
 * Training data: readers for TRL dataset formats (in any file format of {@code data.source}), chat templates, tokenization, label
 * masks, truncation, packing, shuffling and padded batches.
 *
 * <p>The flow a trainer follows:
 * <pre>{@code
 * try (TextTokenizer tok = TextTokenizer.open(modelDir)) {
 *     ChatTemplate template = ChatTemplate.load(modelDir, null);           // or an override
 *     SftDataset data = new SftDatasetReader(tok, template, SftOptions.defaults(2048)).read(file);
 *     List<SftExample> order = Shuffle.shuffled(data.examples(), seed, epoch);
 *     for (List<SftExample> chunk : Batches.chunks(order, 4, false)) {
 *         Batch batch = Batches.sft(chunk, tok.padId());
 *         ...
 *     }
 * }
 * }</pre>
 *
 * <p>Nothing here touches NDArrays: batches are plain {@code int[][]} (with flat {@code long[]}
 * views) that the model package turns into tensors. Formats follow HF TRL (see
 * docs/USER-GUIDE.md, "Datasets", and data.max_length in its config reference).
 *
 * <p>Import contract: floor 3; may import errors, io, config, data.source, data.template.
 */
package dev.paft.data;
