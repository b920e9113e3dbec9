package dev.paft.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEFT adapter directories: PEFT's exact layout on write, clean errors on bad input. */
class PeftAdapterTest {
    @TempDir
    Path tmp;

    static final ObjectMapper JSON = new ObjectMapper();

    static PeftAdapter adapter(int r, int in, int out, String... modules) {
        Random rnd = new Random(5);
        Map<String, PeftAdapter.LoraPair> m = new LinkedHashMap<>();
        for (String mod : modules) {
            float[] a = new float[r * in];
            float[] b = new float[out * r];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) rnd.nextGaussian();
            }
            m.put(mod, new PeftAdapter.LoraPair(FloatTensor.of(a, r, in), FloatTensor.of(b, out, r)));
        }
        PeftAdapterConfig cfg =
                new PeftAdapterConfig(r, 16, 0.05, List.of("q_proj", "v_proj"), false, "models/tiny-llama");
        return new PeftAdapter(cfg, m);
    }

    @Test
    void roundTripIsExactAndUsesPeftKeys() throws IOException {
        PeftAdapter ad = adapter(
                8,
                12,
                10,
                "model.layers.0.self_attn.q_proj",
                "model.layers.0.self_attn.v_proj",
                "model.layers.1.self_attn.q_proj");
        Path dir = tmp.resolve("adapter");
        ad.write(dir, null, null);
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(
                    List.of(
                            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                            "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight",
                            "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight",
                            "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
                            "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"),
                    new ArrayList<>(f.tensors().keySet()));
            assertArrayEquals(
                    new long[] {8, 12},
                    f.info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
                            .shape());
            assertArrayEquals(
                    new long[] {10, 8},
                    f.info("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")
                            .shape());
            assertEquals(
                    DType.F32,
                    f.info("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")
                            .dtype());
        }
        PeftAdapter back = PeftAdapter.read(dir);
        assertEquals(ad.config(), back.config());
        assertEquals(ad.modules().keySet(), back.modules().keySet());
        ad.modules().forEach((k, p) -> {
            assertArrayEquals(p.a().data(), back.modules().get(k).a().data(), k);
            assertArrayEquals(p.b().data(), back.modules().get(k).b().data(), k);
            assertArrayEquals(p.a().shape(), back.modules().get(k).a().shape());
        });
        assertEquals(2.0, back.config().scaling());
        // bf16 adapters round through bf16 exactly
        Path dir16 = tmp.resolve("adapter16");
        ad.write(dir16, DType.BF16, Map.of("paft_step", "10"));
        PeftAdapter back16 = PeftAdapter.read(dir16);
        float[] a = ad.modules().get("model.layers.1.self_attn.q_proj").a().data();
        float[] a16 =
                back16.modules().get("model.layers.1.self_attn.q_proj").a().data();
        for (int i = 0; i < a.length; i++) {
            assertEquals(DType.bf16ToFloat(DType.floatToBf16(a[i])), a16[i]);
        }
    }

    @Test
    void adapterConfigMatchesPeftByteForByte() throws IOException {
        PeftAdapter ad = adapter(8, 4, 4, "model.layers.0.self_attn.q_proj");
        Path dir = tmp.resolve("cfg");
        ad.write(dir, DType.F32, null);
        String got = Files.readString(dir.resolve("adapter_config.json"));
        // written by PEFT's save_pretrained formatting in scripts/golden/make_safetensors_fixture.py
        String want = Files.readString(DTypeTest.resource("peft_adapter_config.json"));
        assertEquals(want, got);
        JsonNode n = JSON.readTree(got);
        for (String key : List.of(
                "peft_type",
                "task_type",
                "r",
                "lora_alpha",
                "lora_dropout",
                "target_modules",
                "bias",
                "fan_in_fan_out",
                "use_rslora",
                "base_model_name_or_path",
                "modules_to_save",
                "inference_mode")) {
            assertTrue(n.has(key), key);
        }
        assertEquals("LORA", n.get("peft_type").asText());
        assertTrue(n.get("lora_alpha").isIntegralNumber(), "integral alpha written as an integer, as PEFT does");
    }

    @Test
    void pythonJsonFormatting() {
        ObjectNode n = JSON.createObjectNode();
        n.put("b", 1e-5)
                .put("a", "é\"\n")
                .put("c", 1e16)
                .put("d", 0.1)
                .put("e", 123456789012.0)
                .put("f", -0.0);
        n.putArray("g");
        n.putObject("h").putArray("x").add(1).add(true);
        assertEquals(
                "{\n  \"a\": \"\\u00e9\\\"\\n\",\n  \"b\": 1e-05,\n  \"c\": 1e+16,\n  \"d\": 0.1,\n  \"e\": 123456789012.0,\n"
                        + "  \"f\": -0.0,\n  \"g\": [],\n  \"h\": {\n    \"x\": [\n      1,\n      true\n    ]\n  }\n}",
                Json.toPythonJson(n, true));
        assertEquals("0.0001", Json.pyFloat(1e-4));
        assertEquals("1.5e-07", Json.pyFloat(1.5e-7));
        assertEquals("2.0", Json.pyFloat(2));
    }

    @Test
    void rsloraAndFractionalAlphaRoundTrip() {
        PeftAdapterConfig cfg = new PeftAdapterConfig(4, 2.5, 0.0, List.of("o_proj"), true, null);
        PeftAdapter ad = new PeftAdapter(
                cfg, adapter(4, 3, 3, "model.layers.0.self_attn.o_proj").modules());
        Path dir = tmp.resolve("rs");
        ad.write(dir, DType.F16, null);
        PeftAdapter back = PeftAdapter.read(dir);
        assertEquals(cfg, back.config());
        assertEquals(2.5 / 2, back.config().scaling(), 1e-12);
    }

    // ---- malformed adapters ------------------------------------------------------------------

    private Path written(String name) {
        Path dir = tmp.resolve(name);
        adapter(8, 6, 5, "model.layers.0.self_attn.q_proj").write(dir, DType.F32, null);
        return dir;
    }

    private static PaftException bad(Path dir, String... fragments) {
        PaftException e = assertThrows(PaftException.class, () -> PeftAdapter.read(dir));
        assertEquals(PaftException.BAD_INPUT, e.exitCode(), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
        }
        return e;
    }

    private static void editConfig(Path dir, String key, Object value) throws IOException {
        ObjectNode c =
                (ObjectNode) JSON.readTree(dir.resolve("adapter_config.json").toFile());
        c.set(key, JSON.valueToTree(value));
        Files.writeString(dir.resolve("adapter_config.json"), c.toString());
    }

    private static void tensors(Path dir, Map<String, FloatTensor> t) {
        SafetensorsWriter.writeAll(dir.resolve("adapter_model.safetensors"), t, DType.F32, Map.of("format", "pt"));
    }

    @Test
    void missingB() {
        Path dir = written("noB");
        tensors(
                dir,
                Map.of(
                        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                        FloatTensor.of(new float[16], 8, 2)));
        bad(dir, "no matching", "lora_B");
    }

    @Test
    void missingA() {
        Path dir = written("noA");
        tensors(
                dir,
                Map.of(
                        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
                        FloatTensor.of(new float[16], 2, 8)));
        bad(dir, "no matching lora_A");
    }

    @Test
    void rankMismatch() throws IOException {
        Path dir = written("rank");
        editConfig(dir, "r", 4);
        bad(dir, "q_proj", "r = 4");
        Path dir2 = written("rank2");
        Map<String, FloatTensor> t = new LinkedHashMap<>();
        t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", FloatTensor.of(new float[16], 8, 2));
        t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", FloatTensor.of(new float[12], 3, 4));
        tensors(dir2, t);
        bad(dir2, "do not fit r = 8");
    }

    /** rank_pattern / alpha_pattern: PEFT's get_pattern_key, the first key matching (.*\.)?(key)$ as a whole. */
    @Test
    void rankAndAlphaPatternsResolvePerModule() throws IOException {
        Path dir = tmp.resolve("patterns");
        Map<String, FloatTensor> t = new LinkedHashMap<>();
        t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", FloatTensor.of(new float[8 * 6], 8, 6));
        t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", FloatTensor.of(new float[5 * 8], 5, 8));
        t.put("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight", FloatTensor.of(new float[2 * 6], 2, 6));
        t.put("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight", FloatTensor.of(new float[5 * 2], 5, 2));
        t.put(
                "base_model.model.model.layers.11.self_attn.q_proj.lora_A.weight",
                FloatTensor.of(new float[8 * 6], 8, 6));
        t.put(
                "base_model.model.model.layers.11.self_attn.q_proj.lora_B.weight",
                FloatTensor.of(new float[5 * 8], 5, 8));
        Files.createDirectories(dir);
        tensors(dir, t);
        ObjectNode c = new PeftAdapterConfig(8, 16, 0, List.of("q_proj"), false, "x").toJson();
        c.putObject("rank_pattern").put("layers.1.self_attn.q_proj", 2);
        c.putObject("alpha_pattern").put("layers.1.self_attn.q_proj", 2);
        Files.writeString(dir.resolve("adapter_config.json"), c.toString());
        PeftAdapter a = PeftAdapter.read(dir);
        PeftAdapterConfig cfg = a.config();
        assertEquals(2, cfg.rank("model.layers.1.self_attn.q_proj"));
        assertEquals(8, cfg.rank("model.layers.11.self_attn.q_proj"), "layers.1 does not match layers.11");
        assertEquals(8, cfg.rank("model.layers.0.self_attn.q_proj"));
        assertEquals(1.0, cfg.scaling("model.layers.1.self_attn.q_proj"));
        assertEquals(2.0, cfg.scaling("model.layers.0.self_attn.q_proj"));
        assertEquals(Map.of("layers.1.self_attn.q_proj", 2), cfg.rankPattern());
        // written back as PEFT writes it (integral alphas as integers)
        JsonNode back = cfg.toJson();
        assertEquals(
                2, back.get("alpha_pattern").get("layers.1.self_attn.q_proj").asInt());
        assertTrue(back.get("alpha_pattern").get("layers.1.self_attn.q_proj").isIntegralNumber());
        // a full module name as key matches under the newer rule too
        assertEquals(
                "model.layers.0.self_attn.q_proj",
                PeftAdapterConfig.patternKey(
                        List.of("model.layers.0.self_attn.q_proj"), "model.layers.0.self_attn.q_proj"));
    }

    @Test
    void nonLoraTypeAndUnsupportedOptions() throws IOException {
        Path dir = written("ia3");
        editConfig(dir, "peft_type", "IA3");
        bad(dir, "adapter_config.json", "IA3", "only LORA");
        Path dora = written("dora");
        editConfig(dora, "use_dora", true);
        bad(dora, "use_dora");
        Path bias = written("bias");
        editConfig(bias, "bias", "all");
        bad(bias, "bias");
        Path fifo = written("fifo");
        editConfig(fifo, "fan_in_fan_out", true);
        bad(fifo, "fan_in_fan_out");
        Path regex = written("regex");
        editConfig(regex, "target_modules", ".*proj");
        bad(regex, "regular expression");
        Path mts = written("mts");
        editConfig(mts, "modules_to_save", List.of("lm_head"));
        bad(mts, "modules_to_save");
        Path rp = written("rp");
        editConfig(rp, "rank_pattern", Map.of("q_proj", 4)); // the pattern names q_proj's rank: 4, not the file's 8
        bad(rp, "model.layers.0.self_attn.q_proj", "do not fit r = 4");
        Path rpv = written("rpv");
        editConfig(rpv, "rank_pattern", Map.of("q_proj", "4"));
        bad(rpv, "rank_pattern['q_proj'] must be a positive integer");
        Path apv = written("apv");
        editConfig(apv, "alpha_pattern", Map.of("q_proj", "big"));
        bad(apv, "alpha_pattern['q_proj'] must be a number");
        Path r0 = written("r0");
        editConfig(r0, "r", 0);
        bad(r0, "'r'");
        Path rs = written("rstr");
        editConfig(rs, "r", "8");
        bad(rs, "'r'");
    }

    @Test
    void binOnlyAndMissingFiles() throws IOException {
        Path dir = written("bin");
        Files.delete(dir.resolve("adapter_model.safetensors"));
        Files.write(dir.resolve("adapter_model.bin"), new byte[] {1, 2});
        bad(dir, "adapter_model.bin".substring(0, 0), "convert it to safetensors");
        Path nocfg = written("nocfg");
        Files.delete(nocfg.resolve("adapter_config.json"));
        bad(nocfg, "adapter_config.json", "not found");
        Path badjson = written("badjson");
        Files.writeString(badjson.resolve("adapter_config.json"), "{\"peft_type\": ");
        bad(badjson, "adapter_config.json", "not valid JSON");
    }

    @Test
    void unexpectedAndMisnamedTensors() {
        Path dir = written("extra");
        Map<String, FloatTensor> t = new LinkedHashMap<>();
        t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", FloatTensor.of(new float[16], 8, 2));
        t.put("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", FloatTensor.of(new float[16], 2, 8));
        t.put("base_model.model.lm_head.weight", FloatTensor.of(new float[4], 2, 2));
        tensors(dir, t);
        bad(dir, "unexpected adapter tensor", "lm_head");
        Path noPrefix = written("noprefix");
        tensors(
                noPrefix,
                Map.of(
                        "lora_A.weight",
                        FloatTensor.of(new float[16], 8, 2),
                        "lora_B.weight",
                        FloatTensor.of(new float[16], 2, 8)));
        bad(noPrefix, "lora_");
        Path emptyModule = written("emptymodule");
        tensors(
                emptyModule,
                Map.of(
                        "base_model.model.lora_A.weight",
                        FloatTensor.of(new float[16], 8, 2),
                        "base_model.model.lora_B.weight",
                        FloatTensor.of(new float[16], 2, 8)));
        bad(emptyModule, "base_model.model.lora_A.weight");
        Path none = written("none");
        tensors(none, Map.of());
        bad(none, "no LoRA tensors");
    }

    @Test
    void deltaIsScaledBA() {
        FloatTensor a = FloatTensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        FloatTensor b = FloatTensor.of(new float[] {1, 0, 0, 1, 1, 1}, 3, 2);
        float[] d = PeftAdapter.delta(new PeftAdapter.LoraPair(a, b), 2.0);
        assertArrayEquals(new float[] {2, 4, 6, 8, 10, 12, 10, 14, 18}, d);
    }
}
