package dev.paft.data.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * Parquet and CSV files read with DuckDB's JDBC driver (in-process, in memory, results streamed):
 * every row becomes a JSON object through DuckDB's {@code to_json}, so nested columns (lists of
 * message structs, maps) arrive as JSON arrays and objects. Rows keep the file's order; a row's
 * location is {@code file#row N} (N from 0, as {@code dataset[N]}). DuckDB handles every Parquet
 * encoding and codec that pyarrow and the Hub write (snappy, zstd, gzip, brotli, lz4).
 */
final class DuckDbSource implements RecordSource {
    private static final ObjectMapper JSON = Mappers.json();
    private final Path file;
    private final Connection conn;
    private final Statement stmt;
    private final ResultSet rows;
    private long row;

    /** @param function DuckDB's table function for the file: read_parquet or read_csv */
    DuckDbSource(Path file, String function) {
        this.file = file;
        String what = function.equals("read_parquet") ? "Parquet" : "CSV";
        Connection c = null;
        Statement s = null;
        try {
            Properties p = new Properties();
            p.setProperty("jdbc_stream_results", "true");
            c = DriverManager.getConnection("jdbc:duckdb:", p);
            s = c.createStatement();
            String literal = "'" + file.toAbsolutePath().toString().replace("'", "''") + "'";
            this.rows = s.executeQuery("SELECT to_json(t)::VARCHAR FROM " + function + "(" + literal + ") t");
        } catch (SQLException | RuntimeException | UnsatisfiedLinkError e) {
            closeQuietly(s, c);
            throw PaftException.badInput(file + ": cannot read " + what + ": " + firstLine(e), e);
        }
        this.conn = c;
        this.stmt = s;
    }

    @Override
    public Row next() {
        try {
            if (!rows.next()) {
                return null;
            }
            String where = file + "#row " + row++;
            String text = rows.getString(1);
            JsonNode node;
            try {
                node = JSON.readTree(text);
            } catch (JsonProcessingException e) {
                return Row.bad(where, "cannot convert the row to JSON: " + e.getOriginalMessage());
            }
            if (node == null || !node.isObject()) {
                return Row.bad(
                        where,
                        "expected a row of columns, found " + (node == null ? "nothing" : DatasetFiles.kind(node)));
            }
            return Row.of(where, node);
        } catch (SQLException e) {
            throw PaftException.badInput(file + "#row " + row + ": cannot read: " + firstLine(e), e);
        }
    }

    /** DuckDB's message without its stack of context lines ("IO Error: No magic bytes found ..."). */
    static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).strip();
    }

    @Override
    public void close() {
        try {
            rows.close();
        } catch (SQLException ignored) {
            // closing
        }
        closeQuietly(stmt, conn);
    }

    private static void closeQuietly(Statement s, Connection c) {
        try {
            if (s != null) {
                s.close();
            }
        } catch (SQLException ignored) {
            // closing
        }
        try {
            if (c != null) {
                c.close();
            }
        } catch (SQLException ignored) {
            // closing
        }
    }
}
