package dev.paft.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.cli.Paft;
import dev.paft.io.Json;
import dev.paft.io.TensorStore;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every config form of mergekit's examples/, its README's configuration section and
 * mergekit's merge-method guide (in the mergekit repository) (one config per method) runs through {@code paft merge} with tiny models
 * substituted (src/test/resources/merge/mergekit-examples, see its README.md): exit 0, the layer
 * count and vocabulary size of its {@code # paft-test:} line, every tensor finite.
 *
 * <p>A config whose {@code merge_method} is not in {@link MergeMethods#REGISTRY} must exit 2 saying
 * "not supported", and is then reported as skipped (pending): the methods another branch adds
 * (della, sce, model_stock, nuslerp, multislerp, karcher, nearswap, arcee_fusion, ram, passthrough)
 * start running here, and must pass, as soon as they are registered.
 */
class MergekitConfigExamplesTest {
    static final Path DIR = Path.of("src/test/resources/merge/mergekit-examples");
    private static final Pattern EXPECT = Pattern.compile("# paft-test: layers=(\\d+)(?: vocab=(\\d+))?");
    private static final Pattern METHOD = Pattern.compile("(?m)^merge_method: *(\\S+)");

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
        String yaml = Files.readString(DIR.resolve(file));
        Matcher e = EXPECT.matcher(yaml);
        assertTrue(e.find(), file + ": no '# paft-test:' line");
        Matcher m = METHOD.matcher(yaml);
        assertTrue(m.find(), file);
        String method = m.group(1);
        Path out = tmp.resolve("out");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true));
        int rc;
        try {
            rc = Paft.execute("merge", DIR.resolve(file).toString(), out.toString());
        } finally {
            System.setErr(old);
        }
        if (!MergeMethods.REGISTRY.containsKey(method)) {
            assertEquals(2, rc, file + ": " + err);
            assertTrue(err.toString().contains("merge method '" + method + "' is not supported"), err.toString());
            Assumptions.abort("pending: merge method " + method + " is not in MergeMethods yet (" + file + ")");
        }
        assertEquals(0, rc, file + ": " + err);
        var cfg = Json.readObject(out.resolve("config.json"));
        int layers = Integer.parseInt(e.group(1));
        assertEquals(layers, cfg.get("num_hidden_layers").asInt(), file);
        try (TensorStore s = TensorStore.openModel(out)) {
            assertEquals(3 * layers + 3, s.names().size(), file + ": " + s.names());
            for (String n : s.names()) {
                float[] v = s.readFloats(n);
                for (float x : v) {
                    assertTrue(Float.isFinite(x), file + ": " + n);
                }
            }
            if (e.group(2) != null) {
                int vocab = Integer.parseInt(e.group(2));
                assertEquals(vocab, cfg.get("vocab_size").asInt(), file);
                assertEquals(vocab, s.info("model.embed_tokens.weight").shape()[0], file);
                assertEquals(vocab, s.info("lm_head.weight").shape()[0], file);
            }
        }
        if (yaml.contains("\nchat_template:")) {
            assertTrue(Files.isRegularFile(out.resolve("chat_template.jinja")), file);
        }
        assertTrue(Files.readString(out.resolve("merge_config.yaml")).contains("merge_method: " + method), file);
    }
}
