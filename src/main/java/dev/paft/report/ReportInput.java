package dev.paft.report;

import java.nio.file.Path;

/**
 * One column of the report: a PEFT adapter directory ({@code delta = B @ A} per module) or, when
 * {@code base} is given and {@code dir} is not an adapter, a full model directory
 * ({@code delta = model - base} per 2-D layer weight).
 *
 * @param label the column name, e.g. "SFT"; null means the directory's name
 * @param base the base model directory for full-model inputs, or null
 */
public record ReportInput(String label, Path dir, Path base) {
    public static ReportInput adapter(String label, Path dir) {
        return new ReportInput(label, dir, null);
    }

    public static ReportInput model(String label, Path dir, Path base) {
        return new ReportInput(label, dir, base);
    }

    /** The label, or the directory's file name when none was given. */
    public String labelOrDefault() {
        if (label != null && !label.isBlank()) {
            return label;
        }
        Path name = dir.toAbsolutePath().normalize().getFileName();
        return name == null ? dir.toString() : name.toString();
    }
}
