package dev.paft.cli;

/** How results are printed: a readable table, JSON or CSV. */
public enum OutputFormat {
    TABLE,
    JSON,
    CSV
}
