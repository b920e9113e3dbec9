package dev.paft.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.testutil.RawSafetensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safetensors write -> read is bit-exact, for every dtype, single files and shards. */
class SafetensorsRoundTripTest {
    @TempDir
    Path tmp;

    private static byte[] randomBytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static byte[] toArray(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    @Test
    void everyDtypeRoundTripsRawBytes() throws IOException {
        Random rnd = new Random(1);
        List<TensorSpec> specs = new ArrayList<>();
        Map<String, byte[]> data = new LinkedHashMap<>();
        for (DType d : DType.values()) {
            long[] shape = {3, 5};
            specs.add(new TensorSpec("t." + d, d, shape));
            byte[] b = randomBytes(rnd, 15 * d.size()); // any bit pattern, NaN payloads included
            if (d == DType.BOOL) {
                for (int i = 0; i < b.length; i++) {
                    b[i] = (byte) (b[i] & 1);
                }
            }
            data.put("t." + d, b);
        }
        specs.add(new TensorSpec("scalar", DType.F32, new long[0]));
        data.put("scalar", randomBytes(rnd, 4));
        specs.add(new TensorSpec("empty", DType.BF16, new long[] {0, 7}));
        data.put("empty", new byte[0]);
        Path file = tmp.resolve("all.safetensors");
        try (SafetensorsWriter w = new SafetensorsWriter(file, specs, Map.of("format", "pt"))) {
            for (TensorSpec s : specs) {
                w.write(s.name(), ByteBuffer.wrap(data.get(s.name())));
            }
        }
        assertFalse(Files.exists(tmp.resolve("all.safetensors.tmp")), "temporary file renamed away");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(
                    new ArrayList<>(data.keySet()), new ArrayList<>(f.tensors().keySet()), "header order");
            for (TensorSpec s : specs) {
                TensorInfo info = f.info(s.name());
                assertEquals(s.dtype(), info.dtype());
                assertArrayEquals(s.shape(), info.shape());
                assertArrayEquals(data.get(s.name()), toArray(f.bytes(s.name())), s.name());
            }
            assertEquals(Map.of("format", "pt"), f.metadata());
        }
        byte[] raw = RawSafetensors.bytes(file);
        assertEquals(0, RawSafetensors.headerLen(raw) % 8, "header padded to 8 bytes");
        String header = RawSafetensors.header(raw);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"}"), header);
        assertTrue(header.endsWith("}") || header.endsWith(" "), header);
        assertEquals(header.stripTrailing(), header.strip());
        assertTrue(header.contains("\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":["), header);
    }

    @Test
    void floatConversionsRoundTrip() {
        float[] v = {
            0f,
            -0f,
            1f,
            -1f,
            Float.NaN,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY,
            Float.MIN_VALUE,
            Float.MIN_NORMAL,
            Float.MAX_VALUE,
            0x1p-24f,
            0x1p-14f,
            65504f,
            65520f,
            1f + 0x1p-8f,
            1f + 3 * 0x1p-8f,
            3.14159265f,
            -2.718281828f,
            1e-30f,
            1e30f,
            0x1.8p-25f
        };
        Path file = tmp.resolve("floats.safetensors");
        Map<String, FloatTensor> t = new LinkedHashMap<>();
        t.put("x", FloatTensor.of(v, v.length));
        for (DType d : List.of(DType.F32, DType.F64, DType.F16, DType.BF16)) {
            SafetensorsWriter.writeAll(file, t, d, null);
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                assertEquals(d, f.info("x").dtype());
                float[] got = f.readFloats("x");
                ByteBuffer raw = f.bytes("x");
                for (int i = 0; i < v.length; i++) {
                    float want;
                    switch (d) {
                        case F16:
                            want = DType.halfToFloat(DType.floatToHalf(v[i]));
                            break;
                        case BF16:
                            want = DType.bf16ToFloat(DType.floatToBf16(v[i]));
                            break;
                        default:
                            want = v[i];
                    }
                    if (Float.isNaN(v[i])) {
                        assertTrue(Float.isNaN(got[i]), d + " NaN");
                    } else {
                        assertEquals(
                                Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[i]), d + " value " + v[i]);
                    }
                    if (d == DType.F16) {
                        assertEquals(DType.floatToHalf(v[i]), raw.getShort(2 * i), "stored f16 bits");
                    } else if (d == DType.BF16) {
                        assertEquals(DType.floatToBf16(v[i]), raw.getShort(2 * i), "stored bf16 bits");
                    }
                }
                assertTrue(f.metadata().isEmpty());
                assertFalse(RawSafetensors.header(rawBytes(file)).contains("__metadata__"), "no empty __metadata__");
            }
        }
        // specific conversions the issue names
        try (SafetensorsFile f = open(t, DType.F16)) {
            float[] g = f.readFloats("x");
            assertEquals(Float.POSITIVE_INFINITY, g[13], "65520 overflows to Inf in F16");
            assertEquals(0x1p-24f, g[10], "F16 subnormal kept");
            assertEquals(0x1p-24f, g[20], "1.5 * 2^-25 rounds to the subnormal 2^-24");
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(g[1]), "-0.0 kept");
            assertEquals(0f, g[7], "float32 MIN_VALUE underflows to 0");
        }
        try (SafetensorsFile f = open(t, DType.BF16)) {
            float[] g = f.readFloats("x");
            assertEquals(1f, g[14], "BF16 tie to even (down)");
            assertEquals(1f + 4 * 0x1p-8f, g[15], "BF16 tie to even (up)");
            assertEquals(Float.POSITIVE_INFINITY, g[9], "MAX_VALUE rounds to Inf in BF16");
            assertTrue(Float.isNaN(g[4]));
        }
    }

    private SafetensorsFile open(Map<String, FloatTensor> t, DType d) {
        Path file = tmp.resolve("x-" + d + ".safetensors");
        SafetensorsWriter.writeAll(file, t, d, null);
        return SafetensorsFile.open(file);
    }

    private static byte[] rawBytes(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void integerDtypesReadAsFloats() {
        Path file = tmp.resolve("ints.safetensors");
        ByteBuffer b = ByteBuffer.allocate(8 * 3)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(-5)
                .putLong(1L << 40)
                .putLong(7);
        try (SafetensorsWriter w =
                new SafetensorsWriter(file, List.of(new TensorSpec("i", DType.I64, new long[] {3})), null)) {
            w.write("i", b.flip());
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[] {-5f, 0x1p40f, 7f}, f.readFloats("i"));
        }
    }

    @Test
    void writerRefusesOutOfOrderDuplicateAndIncomplete() {
        Path file = tmp.resolve("w.safetensors");
        List<TensorSpec> specs =
                List.of(new TensorSpec("a", DType.F32, new long[] {2}), new TensorSpec("b", DType.F32, new long[] {1}));
        SafetensorsWriter w = new SafetensorsWriter(file, specs, null);
        assertThrows(IllegalStateException.class, () -> w.writeFloats("b", new float[1]));
        assertThrows(IllegalArgumentException.class, () -> w.write("a", ByteBuffer.allocate(7)));
        w.writeFloats("a", new float[2]);
        assertThrows(IllegalStateException.class, w::close, "b is missing");
        assertFalse(Files.exists(file));
        assertFalse(Files.exists(tmp.resolve("w.safetensors.tmp")), "partial file deleted");
        List<TensorSpec> dup = List.of(specs.get(0), specs.get(0));
        assertThrows(IllegalArgumentException.class, () -> new SafetensorsWriter(file, dup, null));
        assertThrows(
                IllegalArgumentException.class,
                () -> new SafetensorsWriter(
                        file, List.of(new TensorSpec("__metadata__", DType.F32, new long[] {1})), null));
        assertFalse(Files.exists(tmp.resolve("w.safetensors.tmp")));
    }

    @Test
    void readsTheTorchWrittenFixture() throws IOException {
        JsonNode want = new ObjectMapper()
                .readTree(DTypeTest.resource("python_fixture.expected.json").toFile());
        for (String name : List.of("python_fixture.safetensors", "python_fixture_unpadded.safetensors")) {
            try (SafetensorsFile f = SafetensorsFile.open(DTypeTest.resource(name))) {
                assertEquals(
                        Map.of("format", "pt", "writer", "scripts/golden/make_safetensors_fixture.py"), f.metadata());
                int count = 0;
                for (var it = want.fields(); it.hasNext(); ) {
                    var e = it.next();
                    if (e.getKey().equals("__metadata__")) {
                        continue;
                    }
                    count++;
                    TensorInfo info = f.info(e.getKey());
                    JsonNode w = e.getValue();
                    assertEquals(w.get("dtype").asText(), info.dtype().name(), e.getKey());
                    long[] shape = new long[w.get("shape").size()];
                    for (int i = 0; i < shape.length; i++) {
                        shape[i] = w.get("shape").get(i).asLong();
                    }
                    assertArrayEquals(shape, info.shape(), e.getKey());
                    float[] got = f.readFloats(e.getKey());
                    if (w.has("f32_bits")) {
                        assertEquals(w.get("f32_bits").size(), got.length);
                        for (int i = 0; i < got.length; i++) {
                            assertEquals(
                                    w.get("f32_bits").get(i).asInt(),
                                    Float.floatToRawIntBits(got[i]),
                                    e.getKey() + "[" + i + "]");
                        }
                    } else {
                        assertEquals(w.get("values").size(), got.length);
                        ByteBuffer raw = f.bytes(e.getKey());
                        for (int i = 0; i < got.length; i++) {
                            long v = w.get("values").get(i).asLong();
                            assertEquals((float) v, got[i], e.getKey() + "[" + i + "]");
                            long exact;
                            switch (info.dtype()) {
                                case I64:
                                    exact = raw.getLong(8 * i);
                                    break;
                                case I32:
                                    exact = raw.getInt(4 * i);
                                    break;
                                case I16:
                                    exact = raw.getShort(2 * i);
                                    break;
                                case I8:
                                    exact = raw.get(i);
                                    break;
                                default:
                                    exact = raw.get(i) & 0xff;
                            }
                            assertEquals(v, exact, e.getKey() + "[" + i + "] exact");
                        }
                    }
                }
                assertEquals(count, f.tensors().size());
            }
        }
    }

    @Test
    void shardedRoundTripThroughIndex() throws IOException {
        Random rnd = new Random(3);
        List<TensorSpec> specs = new ArrayList<>();
        Map<String, float[]> values = new LinkedHashMap<>();
        for (int i = 0; i < 7; i++) {
            String name = "model.layers." + i + ".mlp.up_proj.weight";
            DType d = i % 3 == 0 ? DType.BF16 : i % 3 == 1 ? DType.F16 : DType.F32;
            specs.add(new TensorSpec(name, d, new long[] {4, 6}));
            float[] v = new float[24];
            for (int j = 0; j < v.length; j++) {
                v[j] = (float) rnd.nextGaussian();
            }
            values.put(name, v);
        }
        long total = specs.stream().mapToLong(TensorSpec::byteSize).sum();
        Path dir = Files.createDirectories(tmp.resolve("model"));
        try (ShardedWriter w = new ShardedWriter(dir, "model", specs, 100, Map.of("format", "pt"))) {
            assertEquals(5, w.shardCount(), "greedy by bytes: [48+48] [96] [48+48] [96] [48]");
            for (TensorSpec s : specs) {
                w.writeFloats(s.name(), values.get(s.name()));
            }
        }
        JsonNode index = new ObjectMapper()
                .readTree(dir.resolve("model.safetensors.index.json").toFile());
        assertEquals(total, index.get("metadata").get("total_size").asLong());
        assertEquals(specs.size(), index.get("weight_map").size());
        assertTrue(Files.exists(dir.resolve("model-00001-of-00005.safetensors")));
        assertTrue(Files.exists(dir.resolve("model-00005-of-00005.safetensors")));
        String text = Files.readString(dir.resolve("model.safetensors.index.json"));
        assertTrue(
                text.startsWith("{\n  \"metadata\": {\n    \"total_size\": " + total + "\n  },\n  \"weight_map\": {\n"),
                text);
        assertTrue(text.endsWith("}\n"));
        try (TensorStore store = TensorStore.openModel(dir)) {
            assertEquals(new ArrayList<>(values.keySet()), store.names());
            assertEquals(total, store.totalBytes());
            assertEquals(Map.of("format", "pt"), store.metadata());
            for (TensorSpec s : specs) {
                float[] want = values.get(s.name()).clone();
                for (int j = 0; j < want.length; j++) {
                    want[j] = s.dtype() == DType.BF16
                            ? DType.bf16ToFloat(DType.floatToBf16(want[j]))
                            : s.dtype() == DType.F16 ? DType.halfToFloat(DType.floatToHalf(want[j])) : want[j];
                }
                assertArrayEquals(want, store.read(s.name()).data(), s.name());
                assertEquals(s.dtype(), store.info(s.name()).dtype());
            }
        }
    }

    @Test
    void singleShardHasNoIndexAndEmptySetsWork() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("one"));
        List<TensorSpec> specs = List.of(new TensorSpec("a", DType.F32, new long[] {2}));
        try (ShardedWriter w = new ShardedWriter(dir, "model", specs, 1L << 30, null)) {
            w.writeFloats("a", new float[] {1, 2});
        }
        assertTrue(Files.exists(dir.resolve("model.safetensors")));
        assertFalse(Files.exists(dir.resolve("model.safetensors.index.json")));
        try (TensorStore s = TensorStore.openModel(dir)) {
            assertArrayEquals(new float[] {1, 2}, s.readFloats("a"));
        }
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        new ShardedWriter(empty, "model", List.of(), 100, null).close();
        try (TensorStore s = TensorStore.openModel(empty)) {
            assertTrue(s.names().isEmpty());
        }
        assertThrows(IllegalArgumentException.class, () -> new ShardedWriter(empty, "model", specs, 0, null));
    }

    @Test
    void shardedWriterRefusesMissingTensors() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("partial"));
        List<TensorSpec> specs =
                List.of(new TensorSpec("a", DType.F32, new long[] {2}), new TensorSpec("b", DType.F32, new long[] {2}));
        ShardedWriter w = new ShardedWriter(dir, "model", specs, 8, null);
        w.writeFloats("a", new float[2]);
        assertThrows(IllegalStateException.class, w::close);
        assertFalse(Files.exists(dir.resolve("model.safetensors.index.json")), "no index for an incomplete set");
    }
}
