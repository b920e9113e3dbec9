package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.SafetensorsWriter;
import dev.paft.io.TensorStore;
import dev.paft.testutil.Cli;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Merge cases of the attack suite (issue 19, items 4, 15 and 17): a NaN or Inf in any input of any
 * method is exit 4 naming the tensor; a full disk is one line, exit 3, and leaves nothing; the same
 * merge gives the same bytes. Tiny float32 models from src/test/resources/merge/fidelity.
 */
class MergeAttackTest {
    static final Path MODELS = Path.of("src/test/resources/merge/fidelity/models");
    static final String BAD = "model.layers.1.mlp.up_proj.weight";

    @TempDir
    Path tmp;

    /** A copy of model {@code name} with {@code value} at element 5 of {@link #BAD}. */
    Path poisoned(String name, float value) throws Exception {
        Path dir = tmp.resolve(name + "-" + Float.toString(value).replace('-', 'm'));
        Files.createDirectories(dir);
        Map<String, FloatTensor> w = new LinkedHashMap<>();
        try (TensorStore s = TensorStore.openModel(MODELS.resolve(name))) {
            for (String n : s.names()) {
                float[] v = s.readFloats(n);
                if (n.equals(BAD)) {
                    v[5] = value;
                }
                w.put(n, new FloatTensor(s.info(n).shape(), v));
            }
        }
        SafetensorsWriter.writeAll(dir.resolve("model.safetensors"), w, DType.F32, Map.of("format", "pt"));
        Files.copy(MODELS.resolve(name).resolve("config.json"), dir.resolve("config.json"));
        return dir;
    }

    private boolean leftovers() throws Exception {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.anyMatch(p -> p.getFileName().toString().contains(".tmp"));
        }
    }

    /** Every method, sparsifying (density 0.5) or not, count consensus too: NaN and Inf in an input are exit 4 naming it. */
    @ParameterizedTest
    @CsvSource({
        "ties, 0.5, NaN",
        "ties, 1, NaN",
        "ties, 0.5, Infinity",
        "ties, 1, -Infinity",
        "dare_ties, 0.5, NaN",
        "dare_ties, 1, Infinity",
        "dare_linear, 0.5, NaN",
        "dare_linear, 0.5, -Infinity",
        "breadcrumbs, 0.5, NaN",
        "breadcrumbs, 0.5, Infinity",
        "breadcrumbs, 1, NaN",
        "breadcrumbs_ties, 0.5, NaN",
        "breadcrumbs_ties, 1, Infinity",
        "task_arithmetic, 1, NaN",
        "linear, 1, Infinity",
        "slerp, 1, NaN",
        "ties_count, 1, NaN"
    })
    void nonFiniteInputExitsFourNamingTheTensor(String method, double density, float value) throws Exception {
        Path bad = poisoned("m1", value);
        Path out = tmp.resolve("out");
        List<String> args = new ArrayList<>(List.of("merge", "--out", out.toString()));
        if (!method.equals("linear")) {
            args.addAll(List.of("--base", MODELS.resolve("base").toString()));
        }
        boolean count = method.equals("ties_count");
        args.addAll(List.of("--method", count ? "ties" : method));
        if (count) {
            args.addAll(List.of("--param", "consensus=count"));
        }
        if (method.equals("slerp")) {
            args.addAll(List.of("--model", bad.toString(), "--param", "t=0.4"));
        } else {
            String p = method.equals("linear") || method.equals("task_arithmetic")
                    ? ":weight=0.5"
                    : ":weight=0.5,density=" + density;
            args.addAll(List.of("--model", bad + p, "--model", MODELS.resolve("m2") + p));
        }
        Cli.Run r = Attack.cli(args.toArray(String[]::new));
        assertEquals(4, r.code(), method + " " + density + " " + value + ": " + r.err());
        assertTrue(r.err().contains("'" + BAD + "'"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(out));
        assertFalse(leftovers());
    }

    @Test
    void nonFiniteBaseIsNamedAsTheBase() throws Exception {
        Path badBase = poisoned("base", Float.NaN);
        Files.copy(
                MODELS.resolve("base").resolve("config.json"),
                badBase.resolve("config.json"),
                StandardCopyOption.REPLACE_EXISTING);
        Cli.Run r = Attack.cli(
                "merge",
                "--method",
                "ties",
                "--base",
                badBase.toString(),
                "--model",
                MODELS.resolve("m1") + ":weight=1,density=0.5",
                "--model",
                MODELS.resolve("m2") + ":weight=1,density=0.5",
                "--out",
                tmp.resolve("o").toString());
        assertEquals(4, r.code(), r.err());
        assertTrue(r.err().contains("base model: tensor '" + BAD + "' has NaN at element 5"), r.err());
    }

    /** The same merge, in this JVM and in a fresh one (Map.of orders keys by a per-JVM salt), gives the same bytes. */
    @Test
    void mergeOutputIsByteReproducible() throws Exception {
        String yaml = """
                models:
                  - model: %1$s/m1
                    parameters: {weight: 0.6, density: 0.5}
                  - model: %1$s/m2
                    parameters: {density: 0.7, weight: 0.4}
                merge_method: dare_ties
                base_model: %1$s/base
                parameters: {lambda: 0.9, normalize: true}
                dtype: bfloat16
                """.formatted(MODELS.toAbsolutePath());
        Path cfg = tmp.resolve("m.yml");
        Files.writeString(cfg, yaml);
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        Path c = tmp.resolve("c");
        assertEquals(0, Attack.cli("merge", cfg.toString(), a.toString()).code());
        assertEquals(0, Attack.cli("merge", cfg.toString(), b.toString()).code());
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        "dev.paft.cli.Paft",
                        "merge",
                        cfg.toString(),
                        c.toString())
                .redirectErrorStream(true)
                .start();
        String child = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), child);
        for (String f : List.of("model.safetensors", "config.json", "merge_config.yaml")) {
            byte[] x = Files.readAllBytes(a.resolve(f));
            assertTrue(Arrays.equals(x, Files.readAllBytes(b.resolve(f))), f + " differs between two runs");
            assertTrue(Arrays.equals(x, Files.readAllBytes(c.resolve(f))), f + " differs from a run in another JVM");
        }
        // each entry of merge_models keeps its keys in the config's order
        try (TensorStore s = TensorStore.openModel(a)) {
            String models = s.metadata().get("merge_models");
            assertEquals(
                    "[{\"model\":\"" + MODELS.toAbsolutePath()
                            + "/m1\",\"parameters\":{\"weight\":0.6,\"density\":0.5}}," + "{\"model\":\""
                            + MODELS.toAbsolutePath() + "/m2\",\"parameters\":{\"density\":0.7,\"weight\":0.4}}]",
                    models);
        }
    }

    /**
     * A full disk: a 64 KiB tmpfs (root only; skipped where mount is not allowed). Too small for the
     * tensors: refused before any work; room for the tensors but not for the rest of the output:
     * the writes fail. Both: exit 3, one line "no space left on ...", nothing left behind.
     */
    @Test
    void fullDiskIsOneLineExitThreeAndLeavesNothing() throws Exception {
        Path mnt = tmp.resolve("small");
        Files.createDirectories(mnt);
        Process m = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt.toString())
                .redirectErrorStream(true)
                .start();
        boolean mounted = m.waitFor(20, TimeUnit.SECONDS) && m.exitValue() == 0;
        Assumptions.assumeTrue(
                mounted,
                "cannot mount a tmpfs here (needs root): "
                        + new String(m.getInputStream().readAllBytes()));
        try {
            // the tiny models hold 12 KB of float32 tensors: an 8x copy (96 KB) cannot fit, refused before the work
            Path wider = widen(tmp.resolve("wider"), 8);
            Cli.Run early = Attack.cli(
                    "merge",
                    "--method",
                    "linear",
                    "--model",
                    wider + ":weight=1",
                    "--out",
                    mnt.resolve("o2").toString());
            assertEquals(3, early.code(), early.err());
            assertTrue(early.err().contains("no space left on") && early.err().contains("needs"), early.err());
            assertEquals(1, early.err().strip().lines().count(), early.err());
            // mid-write: 48 KB of tensors fit the 52 KiB left beside a filler, the shard's header and the
            // side files (config.json, merge_config.yaml: a 4 KiB page each) do not
            Path wide = widen(tmp.resolve("wide"), 4);
            Files.write(mnt.resolve("filler"), new byte[12 << 10]);
            Cli.Run mid = Attack.cli(
                    "merge",
                    "--method",
                    "linear",
                    "--model",
                    wide + ":weight=1",
                    "--out",
                    mnt.resolve("o3").toString());
            assertEquals(3, mid.code(), mid.err());
            assertTrue(mid.err().contains("no space left on"), mid.err());
            assertFalse(mid.err().contains("Exception") || mid.err().contains("\tat "), mid.err());
            assertEquals(1, mid.err().strip().lines().count(), mid.err());
            try (Stream<Path> s = Files.list(mnt)) {
                // the lock files stay by design (docs/GUARANTEES.md, Locking): nothing else may
                assertEquals(
                        List.of("filler"),
                        s.map(p -> p.getFileName().toString())
                                .filter(n -> !n.endsWith(".paft-lock"))
                                .toList());
            }
        } finally {
            new ProcessBuilder("umount", mnt.toString()).start().waitFor(20, TimeUnit.SECONDS);
        }
    }

    /** Model m1 with every tensor repeated {@code times} times along its first axis (same config otherwise). */
    private Path widen(Path dir, int times) throws Exception {
        Files.createDirectories(dir);
        Map<String, FloatTensor> w = new LinkedHashMap<>();
        try (TensorStore s = TensorStore.openModel(MODELS.resolve("m1"))) {
            for (String n : s.names()) {
                float[] v = s.readFloats(n);
                float[] r = new float[v.length * times];
                for (int k = 0; k < times; k++) {
                    System.arraycopy(v, 0, r, k * v.length, v.length);
                }
                long[] shape = s.info(n).shape().clone();
                shape[0] *= times;
                w.put(n, new FloatTensor(shape, r));
            }
        }
        SafetensorsWriter.writeAll(dir.resolve("model.safetensors"), w, DType.F32, Map.of("format", "pt"));
        Files.copy(MODELS.resolve("m1").resolve("config.json"), dir.resolve("config.json"));
        return dir;
    }
}
