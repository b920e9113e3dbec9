package dev.paft.data.source;

import dev.paft.errors.PaftException;
import java.nio.file.Path;

/** Run in a fresh JVM by {@link DatasetFilesTest}: reads an Arrow file, prints the row count or the error. */
public final class ArrowOpensProbe {
    private ArrowOpensProbe() {}

    public static void main(String[] args) {
        int n = 0;
        try (RecordSource s = DatasetFiles.openAll(Path.of(args[0]))) {
            while (s.next() != null) {
                n++;
            }
            System.out.println("rows " + n);
        } catch (PaftException e) {
            System.out.println("exit " + e.exitCode() + ": " + e.getMessage());
        }
    }
}
