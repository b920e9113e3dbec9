package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.cli.Paft;
import dev.paft.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * mergekit's configs for the methods of issue 16 through the real {@code paft merge} command, with tiny
 * models substituted: examples/arcee_fusion.yml, and for every other method the parameters its
 * section of mergekit's merge-method guide (in the mergekit repository) names (the docs hold no YAML for them). Each must merge (exit 0)
 * into a bfloat16 model with every tensor finite, and a random method must give the same bytes twice.
 */
class MergekitExamplesTest {
    static final Path DIR = Path.of("src/test/resources/merge/methods/examples");

    @TempDir
    Path tmp;

    static Stream<String> configs() throws Exception {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yml")).sorted().toList().stream();
        }
    }

    @ParameterizedTest
    @MethodSource("configs")
    void runsThroughPaftMerge(String file) throws Exception {
        Path out = tmp.resolve("out");
        assertEquals(0, Paft.execute("merge", DIR.resolve(file).toString(), out.toString()), file);
        assertEquals(
                "bfloat16",
                Json.readObject(out.resolve("config.json")).get("torch_dtype").asText());
        Map<String, float[]> got = MergeFidelityTest.read(out);
        Map<String, float[]> base = MergeFidelityTest.read(DIR.resolve("../models/base"));
        assertEquals(base.keySet(), got.keySet());
        for (var e : got.entrySet()) {
            for (float v : e.getValue()) {
                assertTrue(Float.isFinite(v), file + ": " + e.getKey());
            }
        }
        String yaml = Files.readString(out.resolve("merge_config.yaml"));
        assertTrue(
                yaml.contains("merge_method: "
                        + MergeSpec.fromMergekit(DIR.resolve(file)).method()),
                yaml);
        if (file.startsWith("della")) {
            Path again = tmp.resolve("again");
            assertEquals(
                    0, Paft.execute("merge", out.resolve("merge_config.yaml").toString(), again.toString()));
            Map<String, float[]> b = MergeFidelityTest.read(again);
            got.forEach((k, v) -> assertArrayEquals(v, b.get(k), k));
            // mergekit's rescale: true is L1 for della: written as it is, no paft_parameters rescale
            assertTrue(!yaml.contains("rescale: density"), yaml);
        }
    }
}
