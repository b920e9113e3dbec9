package dev.paft.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import dev.paft.testutil.RawSafetensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A corpus of corrupt and hostile safetensors files: each fails with a {@link PaftException}
 * exit 3 naming the file (and the tensor where there is one), quickly and without a large
 * allocation.
 */
class MalformedSafetensorsTest {
    @TempDir
    Path tmp;

    static final String T = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    /** name, header text, data bytes, text the message must contain (besides the file name). */
    static Stream<Arguments> corpus() {
        return Stream.of(
                Arguments.of("bad-json", "{\"w\":{\"dtype\":\"F32\",", 8, "not valid JSON"),
                Arguments.of("not-json-at-all", "\u0000\u0001\u0002garbage", 0, "not valid JSON"),
                Arguments.of("trailing-garbage", "{\"w\":" + T + "} xx", 8, "not valid JSON"),
                Arguments.of("header-array", "[1,2,3]", 0, "not a JSON object"),
                Arguments.of("header-string", "\"hello\"", 0, "not a JSON object"),
                Arguments.of("entry-not-object", "{\"w\":5}", 0, "'w'"),
                Arguments.of("missing-dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'w'"),
                Arguments.of("missing-offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "'w'"),
                Arguments.of(
                        "unknown-dtype",
                        "{\"w\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                        2,
                        "unknown dtype 'F8_E5M2'"),
                Arguments.of(
                        "lowercase-dtype",
                        "{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                        8,
                        "unknown dtype"),
                Arguments.of(
                        "shape-bytes-mismatch",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                        8,
                        "needs 12 bytes"),
                Arguments.of(
                        "negative-shape",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
                        8,
                        "non-negative"),
                Arguments.of(
                        "fractional-shape",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}",
                        8,
                        "non-negative"),
                Arguments.of(
                        "string-shape",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}",
                        8,
                        "non-negative"),
                Arguments.of(
                        "overflowing-shape",
                        "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
                        8,
                        "overflows"),
                Arguments.of(
                        "huge-shape-number",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999999],\"data_offsets\":[0,8]}}",
                        8,
                        "non-negative"),
                Arguments.of(
                        "offsets-reversed",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",
                        8,
                        "out of range"),
                Arguments.of(
                        "offsets-negative",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}",
                        8,
                        "out of range"),
                Arguments.of(
                        "offsets-past-end",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                        8,
                        "out of range"),
                Arguments.of(
                        "offsets-huge",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775800,9223372036854775808]}}",
                        8,
                        "two integers"),
                Arguments.of(
                        "offsets-three",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}",
                        8,
                        "two integers"),
                Arguments.of(
                        "overlap",
                        "{\"a\":" + T + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        12,
                        "overlap"),
                Arguments.of("same-span", "{\"a\":" + T + ",\"b\":" + T + "}", 8, "overlap"),
                Arguments.of(
                        "gap",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                        12,
                        "gap"),
                Arguments.of("trailing-data", "{\"w\":" + T + "}", 16, "cover 8 bytes of a 16-byte"),
                Arguments.of("truncated-data", "{\"w\":" + T + "}", 5, "out of range"),
                Arguments.of("duplicate-key", "{\"w\":" + T + ",\"w\":" + T + "}", 8, "Duplicate"),
                Arguments.of("metadata-not-map", "{\"__metadata__\":[1],\"w\":" + T + "}", 8, "__metadata__"),
                Arguments.of(
                        "metadata-not-strings",
                        "{\"__metadata__\":{\"step\":5},\"w\":" + T + "}",
                        8,
                        "__metadata__.step"),
                Arguments.of(
                        "deep-nesting",
                        "{\"w\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}",
                        0,
                        "not valid JSON"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void failsCleanly(String name, String header, int dataBytes, String expect) throws IOException {
        Path file = RawSafetensors.write(tmp.resolve(name + ".safetensors"), header, dataBytes);
        PaftException e = expectBad(file);
        assertTrue(e.getMessage().contains(expect), name + ": " + e.getMessage());
        if (header.contains("\"w\"")
                && !name.equals("bad-json")
                && !name.startsWith("trailing")
                && !name.equals("duplicate-key")
                && !name.equals("deep-nesting")
                && !name.startsWith("metadata")) {
            assertTrue(e.getMessage().contains("'w'"), name + " names the tensor: " + e.getMessage());
        }
    }

    private static PaftException expectBad(Path file) {
        PaftException e = assertTimeoutPreemptively(
                Duration.ofSeconds(5),
                () -> assertThrows(
                        PaftException.class, () -> SafetensorsFile.open(file).close()));
        assertEquals(PaftException.BAD_INPUT, e.exitCode(), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
        return e;
    }

    @Test
    void shortAndEmptyFiles() throws IOException {
        for (int n : new int[] {0, 1, 7}) {
            Path f = Files.write(tmp.resolve("short" + n + ".safetensors"), new byte[n]);
            assertTrue(expectBad(f).getMessage().contains("shorter than the 8-byte header length"));
        }
        Path noHeader = RawSafetensors.write(tmp.resolve("len0.safetensors"), 0, new byte[0], new byte[0]);
        expectBad(noHeader);
    }

    @Test
    void headerLengthBeyondTheFileOrHugeDoesNotAllocate() throws IOException {
        byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
        long[] lens = {
            3, 1000, 1L << 62, -1L /* 2^64-1 unsigned */, Long.MIN_VALUE, SafetensorsFile.MAX_HEADER_BYTES + 1
        };
        for (long len : lens) {
            Path f = RawSafetensors.write(tmp.resolve("len.safetensors"), len, h, new byte[0]);
            long before = usedHeap();
            PaftException e = expectBad(f);
            assertTrue(e.getMessage().contains("declared header length " + Long.toUnsignedString(len)), e.getMessage());
            assertTrue(usedHeap() - before < 64L << 20, "no large allocation for header length " + len);
        }
    }

    private static long usedHeap() {
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }

    @Test
    void truncatedCopiesOfAValidFileAllFail() throws IOException {
        Path good = tmp.resolve("good.safetensors");
        SafetensorsWriter.writeAll(
                good, Map.of("w", FloatTensor.of(new float[] {1, 2, 3, 4}, 2, 2)), DType.F32, Map.of("format", "pt"));
        byte[] all = Files.readAllBytes(good);
        SafetensorsFile.open(good).close();
        for (int n = 0; n < all.length; n++) {
            Path cut = Files.write(tmp.resolve("cut.safetensors"), Arrays.copyOf(all, n));
            expectBad(cut);
        }
        // and with one extra byte appended
        byte[] longer = Arrays.copyOf(all, all.length + 1);
        expectBad(Files.write(tmp.resolve("long.safetensors"), longer));
    }

    @Test
    void flippedBytesNeverCrash() throws IOException {
        Path good = tmp.resolve("good.safetensors");
        SafetensorsWriter.writeAll(
                good,
                Map.of("w", FloatTensor.of(new float[] {1, 2, 3, 4}, 2, 2), "v", FloatTensor.of(new float[] {5}, 1)),
                DType.BF16,
                null);
        byte[] all = Files.readAllBytes(good);
        long headerEnd = 8 + RawSafetensors.headerLen(all);
        Random rnd = new Random(11);
        for (int i = 0; i < 120; i++) {
            byte[] b = all.clone();
            int pos = rnd.nextInt((int) headerEnd);
            b[pos] = (byte) rnd.nextInt(256);
            Path f = Files.write(tmp.resolve("flip.safetensors"), b);
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                for (String name : sf.tensors().keySet()) {
                    sf.readFloats(name); // a flip that still parses must read within bounds
                }
            } catch (PaftException e) {
                assertEquals(PaftException.BAD_INPUT, e.exitCode());
                assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
            }
        }
    }

    @Test
    void missingFileIsExit3() {
        PaftException e =
                assertThrows(PaftException.class, () -> SafetensorsFile.open(tmp.resolve("nope.safetensors")));
        assertEquals(3, e.exitCode());
        assertTrue(e.getMessage().contains("nope.safetensors"));
    }

    // ---- model directories and index files -------------------------------------------------

    private Path modelDir(String name) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        SafetensorsWriter.writeAll(
                dir.resolve("model-00001-of-00002.safetensors"),
                Map.of("a", FloatTensor.of(new float[] {1}, 1)),
                DType.F32,
                null);
        SafetensorsWriter.writeAll(
                dir.resolve("model-00002-of-00002.safetensors"),
                Map.of("b", FloatTensor.of(new float[] {2}, 1)),
                DType.F32,
                null);
        return dir;
    }

    private static PaftException expectBadDir(Path dir, String... fragments) {
        PaftException e = assertThrows(
                PaftException.class, () -> TensorStore.openModel(dir).close());
        assertEquals(PaftException.BAD_INPUT, e.exitCode(), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
        }
        return e;
    }

    private static void index(Path dir, String json) throws IOException {
        Files.writeString(dir.resolve("model.safetensors.index.json"), json);
    }

    @Test
    void indexPointingToAMissingShard() throws IOException {
        Path dir = modelDir("missing");
        index(
                dir,
                "{\"metadata\":{\"total_size\":8},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00003-of-00002.safetensors\"}}");
        expectBadDir(dir, "model.safetensors.index.json", "model-00003-of-00002.safetensors", "'b'");
    }

    @Test
    void indexPointingToTheWrongShard() throws IOException {
        Path dir = modelDir("wrong");
        index(dir, "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\"}}");
        expectBadDir(dir, "model.safetensors.index.json", "'a'", "does not hold it");
    }

    @Test
    void indexWithPathTraversal() throws IOException {
        Path dir = modelDir("traversal");
        Path outside = tmp.resolve("outside.safetensors");
        SafetensorsWriter.writeAll(outside, Map.of("a", FloatTensor.of(new float[] {1}, 1)), DType.F32, null);
        for (String target : List.of("../outside.safetensors", outside.toString(), "..", "sub\\\\x.safetensors")) {
            index(dir, "{\"weight_map\":{\"a\":\"" + target + "\"}}");
            expectBadDir(dir, "model.safetensors.index.json", "outside the directory");
        }
    }

    @Test
    void indexMalformed() throws IOException {
        Path dir = modelDir("badindex");
        index(dir, "{\"weight_map\": ");
        expectBadDir(dir, "model.safetensors.index.json", "not valid JSON");
        index(dir, "[]");
        expectBadDir(dir, "model.safetensors.index.json", "weight_map");
        index(dir, "{\"metadata\":{}}");
        expectBadDir(dir, "model.safetensors.index.json", "weight_map");
        index(dir, "{\"weight_map\":{\"a\":7}}");
        expectBadDir(dir, "model.safetensors.index.json", "weight_map.a");
    }

    @Test
    void indexNamingACorruptShardNamesTheShard() throws IOException {
        Path dir = modelDir("corruptshard");
        Files.write(dir.resolve("model-00002-of-00002.safetensors"), new byte[] {1, 2, 3});
        index(
                dir,
                "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\"}}");
        expectBadDir(dir, "model-00002-of-00002.safetensors");
    }

    @Test
    void directoriesWithoutSafetensors() throws IOException {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Files.write(bin.resolve("pytorch_model.bin"), new byte[] {1});
        expectBadDir(bin, "convert it to safetensors");
        expectBadDir(Files.createDirectories(tmp.resolve("nothing")), "no model.safetensors");
        expectBadDir(tmp.resolve("not-there"), "not a directory");
        Path dup = modelDir("dup");
        SafetensorsWriter.writeAll(
                dup.resolve("model-00002-of-00002.safetensors"),
                Map.of("a", FloatTensor.of(new float[] {2}, 1)),
                DType.F32,
                null);
        expectBadDir(dup, "'a'", "more than one file");
    }

    @Test
    void unindexedShardsAreFoundAndMissingTensorsNamed() throws IOException {
        Path dir = modelDir("noindex");
        try (TensorStore s = TensorStore.openModel(dir)) {
            assertEquals(List.of("a", "b"), s.names());
            PaftException e = assertThrows(PaftException.class, () -> s.read("lm_head.weight"));
            assertEquals(3, e.exitCode());
            assertTrue(e.getMessage().contains("'lm_head.weight'"));
        }
    }
}
