package dev.paft.data.source;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Records of one dataset file, one at a time, each with where it came from ({@code file:line} for
 * JSON text, {@code file#row N} for columnar files, N counted from 0 as {@code dataset[N]} in
 * Python). A record that cannot be parsed comes back as a {@link Row} with an error, so a caller
 * can skip it; a file that cannot be read at all throws an exit-3 {@code PaftException}.
 */
public interface RecordSource extends AutoCloseable {
    /** The next row, or null at the end. */
    Row next();

    @Override
    void close();

    /** One record: its JSON value (an object, when {@code error} is null) and location. */
    record Row(String location, JsonNode value, String error) {
        public static Row of(String location, JsonNode value) {
            return new Row(location, value, null);
        }

        public static Row bad(String location, String error) {
            return new Row(location, null, error);
        }
    }
}
