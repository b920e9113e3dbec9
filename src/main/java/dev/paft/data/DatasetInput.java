package dev.paft.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.data.source.DatasetFiles;
import dev.paft.data.source.RecordSchema;
import dev.paft.data.source.RecordSource;
import dev.paft.errors.PaftException;
import java.nio.file.Path;

/**
 * The records of a dataset path in any supported format ({@link DatasetFiles}), mapped to TRL's
 * shape ({@link RecordSchema}) and handed to a reader, with the bad-record policy of
 * {@link JsonlReader}: a row that cannot be parsed or used is an exit-3 error naming its location
 * ({@code file:line} or {@code file#row N}), or is skipped and counted. A first record of unknown
 * schema stops the read even when skipping: then the file, not a row, is wrong.
 */
final class DatasetInput {
    private DatasetInput() {}

    static void forEach(
            Path path,
            RecordSchema schema,
            boolean skipBad,
            DatasetStats.Counter counter,
            JsonlReader.RecordHandler handler) {
        try (RecordSource rows = DatasetFiles.openAll(path)) {
            RecordSource.Row row;
            while ((row = rows.next()) != null) {
                counter.read++;
                try {
                    if (row.error() != null) {
                        throw new BadRecordException(row.error());
                    }
                    JsonNode record = schema.normalize(row.value());
                    handler.accept(record);
                } catch (BadRecordException | PaftException e) {
                    if (e instanceof PaftException p && p.exitCode() != PaftException.BAD_INPUT) {
                        throw p; // configuration problems are not the record's fault
                    }
                    boolean firstUsable = counter.read - counter.skippedBad == 1;
                    if (skipBad && !(e instanceof RecordSchema.UnknownSchemaException && firstUsable)) {
                        counter.skippedBad++;
                    } else {
                        throw PaftException.badInput(row.location() + ": " + e.getMessage(), e);
                    }
                }
            }
        }
        if (counter.read == 0) {
            throw PaftException.badInput(path + ": empty dataset (no records)");
        }
    }
}
