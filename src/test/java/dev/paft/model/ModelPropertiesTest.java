package dev.paft.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.paft.config.LoraConfig;
import dev.paft.errors.PaftException;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.SafetensorsWriter;
import dev.paft.io.TensorStore;
import dev.paft.lora.LoraAdapter;
import dev.paft.testutil.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Properties of the model that need no reference: LoRA identities, padding, KV cache, load validation. */
class ModelPropertiesTest {
    static final LoraConfig ALL = new LoraConfig(4, 8, 0, Proj.names(), false);

    static float[] logits(LlamaModel model, NDManager scope, NDArray ids, NDArray mask, LoraAdapter a) {
        return Autograd.noGrad(() -> model.forward(scope, ids, mask, a, false).toFloatArray());
    }

    @Test
    void freshAdapterIsExactlyTheBaseAndDisabledAdapterIsTheBase() {
        Map<String, FloatTensor> g = Fixtures.golden("llama");
        try (LlamaModel model = LlamaModel.load(Fixtures.dir("llama"), Fixtures.cpu(), false);
                LoraAdapter fresh = model.newAdapter(ALL, 7, "llama");
                LoraAdapter trained = model.loadAdapter(Fixtures.dir("llama-adapter"));
                NDManager scope = model.manager().newSubManager()) {
            NDArray ids = Fixtures.longs(scope, g.get("input_ids"));
            NDArray mask = Fixtures.longs(scope, g.get("attention_mask"));
            float[] base = logits(model, scope, ids, mask, null);
            assertArrayEquals(base, logits(model, scope, ids, mask, fresh), 0f);
            assertTrue(Fixtures.relErr(logits(model, scope, ids, mask, trained), base) > 1e-3);
            trained.setEnabled(false);
            assertArrayEquals(base, logits(model, scope, ids, mask, trained), 0f);
        }
    }

    @Test
    void mergedEqualsUnmerged() {
        for (String name : new String[] {"llama", "qwen2-f16"}) {
            Map<String, FloatTensor> g = Fixtures.golden(name);
            try (LlamaModel model = LlamaModel.load(Fixtures.dir(name), Fixtures.cpu(), false);
                    LoraAdapter adapter = model.loadAdapter(Fixtures.dir(name + "-adapter"));
                    NDManager scope = model.manager().newSubManager()) {
                NDArray ids = Fixtures.longs(scope, g.get("input_ids"));
                float[] unmerged = logits(model, scope, ids, null, adapter);
                model.mergeAdapter(adapter);
                float[] merged = logits(model, scope, ids, null, null);
                double err = Fixtures.relErr(merged, unmerged);
                System.out.printf("merged vs unmerged %s: rel %.2e%n", name, err);
                assertTrue(err < 1e-5, "merged vs unmerged rel err " + err);
            }
        }
    }

    @Test
    void mergeIntoFloat16StorageRoundsOnlyOnce() {
        Map<String, FloatTensor> g = Fixtures.golden("llama");
        try (LlamaModel model = LlamaModel.load(Fixtures.dir("llama"), Fixtures.cpu(), true);
                LoraAdapter adapter = model.loadAdapter(Fixtures.dir("llama-adapter"));
                NDManager scope = model.manager().newSubManager()) {
            NDArray ids = Fixtures.longs(scope, g.get("input_ids"));
            float[] unmerged = logits(model, scope, ids, null, adapter);
            model.mergeAdapter(adapter);
            float[] merged = logits(model, scope, ids, null, null);
            double err = Fixtures.relErr(merged, unmerged);
            System.out.printf("merged (f16 storage) vs unmerged: rel %.2e%n", err);
            assertTrue(err < 1e-2 && err > 0, "merged vs unmerged rel err " + err);
        }
    }

    @Test
    void paddedBatchEqualsRowsAlone() {
        Map<String, FloatTensor> g = Fixtures.golden("qwen2-f16");
        try (LlamaModel model = LlamaModel.load(Fixtures.dir("qwen2-f16"), Fixtures.cpu(), false);
                LoraAdapter adapter = model.loadAdapter(Fixtures.dir("qwen2-f16-adapter"));
                NDManager scope = model.manager().newSubManager()) {
            NDArray ids = Fixtures.longs(scope, g.get("input_ids"));
            NDArray mask = Fixtures.longs(scope, g.get("attention_mask"));
            int b = (int) ids.getShape().get(0);
            int t = (int) ids.getShape().get(1);
            int v = model.config().vocabSize();
            float[] batch = logits(model, scope, ids, mask, adapter);
            for (int i = 0; i < b; i++) {
                int len = (int) mask.get(i).sum().toLongArray()[0];
                NDArray row = ids.get(new NDIndex("{}:{}, 0:{}", i, i + 1, len));
                float[] alone = logits(model, scope, row, null, adapter);
                float[] fromBatch = new float[len * v];
                System.arraycopy(batch, i * t * v, fromBatch, 0, len * v);
                assertTrue(Fixtures.relErr(fromBatch, alone) < 1e-5, "row " + i);
            }
        }
    }

    @Test
    void kvCacheGenerationEqualsFullRecomputation() {
        Map<String, FloatTensor> g = Fixtures.golden("llama3-scaled");
        try (LlamaModel model = LlamaModel.load(Fixtures.dir("llama3-scaled"), Fixtures.cpu(), false);
                NDManager scope = model.manager().newSubManager();
                KvCache cache = model.newCache()) {
            NDArray prompt = Fixtures.longs(scope, g.get("input_ids")).get(new NDIndex("0:1, 0:5")); // [1, 5]
            long[] seq = prompt.toLongArray();
            NDArray step = prompt;
            Autograd.setGradMode(false);
            for (int i = 0; i < 8; i++) {
                NDArray out = model.forward(scope, step, null, null, null, cache, false); // [1, T, V]
                float[] cached = out.get(new NDIndex("0, -1")).toFloatArray();
                NDArray all = scope.create(seq, new Shape(1, seq.length));
                float[] full = model.forward(scope, all, null, null, false)
                        .get(new NDIndex("0, -1"))
                        .toFloatArray();
                assertTrue(Fixtures.relErr(cached, full) < 1e-5, "step " + i + " err " + Fixtures.relErr(cached, full));
                assertEquals(seq.length, cache.length());
                long next = out.get(new NDIndex("0, -1")).argMax().toLongArray()[0];
                long[] longer = new long[seq.length + 1];
                System.arraycopy(seq, 0, longer, 0, seq.length);
                longer[seq.length] = next;
                seq = longer;
                step = scope.create(new long[] {next}, new Shape(1, 1));
            }
            assertEquals(12, cache.length()); // 5 prompt + 7 fed tokens
        }
    }

    @Test
    void leftPaddedBatchWithPositionIdsAndCacheEqualsRowsAlone() {
        try (LlamaModel model = LlamaModel.load(Fixtures.dir("llama"), Fixtures.cpu(), false);
                NDManager scope = model.manager().newSubManager();
                KvCache cache = model.newCache()) {
            Autograd.setGradMode(false);
            int v = model.config().vocabSize();
            // row 1 is left-padded by two; its positions count real tokens only
            NDArray ids = scope.create(new long[] {5, 9, 17, 33, 40, 0, 0, 12, 7, 99}, new Shape(2, 5));
            NDArray mask = scope.create(new long[] {1, 1, 1, 1, 1, 0, 0, 1, 1, 1}, new Shape(2, 5));
            NDArray posIds = scope.create(new long[] {0, 1, 2, 3, 4, 0, 0, 0, 1, 2}, new Shape(2, 5));
            float[] out =
                    model.forward(scope, ids, mask, posIds, null, cache, false).toFloatArray();
            // next step: one token each, mask grows by one column
            NDArray next = scope.create(new long[] {3, 4}, new Shape(2, 1));
            NDArray mask2 = scope.create(new long[] {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1}, new Shape(2, 6));
            NDArray pos2 = scope.create(new long[] {5, 3}, new Shape(2, 1));
            float[] out2 =
                    model.forward(scope, next, mask2, pos2, null, cache, false).toFloatArray();
            long[][] alone = {{5, 9, 17, 33, 40, 3}, {12, 7, 99, 4}};
            for (int r = 0; r < 2; r++) {
                int pad = r == 0 ? 0 : 2;
                NDArray a = scope.create(alone[r], new Shape(1, alone[r].length));
                float[] ref = model.forward(scope, a, null, null, false).toFloatArray();
                float[] got = new float[(5 - pad) * v];
                System.arraycopy(out, (r * 5 + pad) * v, got, 0, got.length);
                float[] refPrompt = new float[got.length];
                System.arraycopy(ref, 0, refPrompt, 0, got.length);
                assertTrue(Fixtures.relErr(got, refPrompt) < 1e-5, "prompt row " + r);
                float[] gotNext = new float[v];
                System.arraycopy(out2, r * v, gotNext, 0, v);
                float[] refNext = new float[v];
                System.arraycopy(ref, (alone[r].length - 1) * v, refNext, 0, v);
                assertTrue(Fixtures.relErr(gotNext, refNext) < 1e-5, "next row " + r);
            }
        }
    }

    // ---------------------------------------------------------------- load validation

    private static Path mutated(Path tmp, Consumer<Map<String, FloatTensor>> change, String config) throws IOException {
        Map<String, FloatTensor> t = new LinkedHashMap<>();
        try (TensorStore s = TensorStore.openModel(Fixtures.dir("llama"))) {
            for (String n : s.names()) {
                t.put(n, s.read(n));
            }
        }
        change.accept(t);
        Files.writeString(
                tmp.resolve("config.json"),
                config != null ? config : Files.readString(Fixtures.dir("llama").resolve("config.json")));
        SafetensorsWriter.writeAll(tmp.resolve("model.safetensors"), t, DType.F32, Map.of("format", "pt"));
        return tmp;
    }

    private static void assertBadInput(Path dir, String mentions) {
        PaftException e = assertThrows(PaftException.class, () -> LlamaModel.load(dir, Fixtures.cpu(), false));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains(mentions), e.getMessage());
    }

    @Test
    void missingTensorIsBadInput(@TempDir Path tmp) throws IOException {
        assertBadInput(
                mutated(tmp, t -> t.remove("model.layers.1.mlp.up_proj.weight"), null),
                "model.layers.1.mlp.up_proj.weight");
    }

    @Test
    void unexpectedTensorIsBadInput(@TempDir Path tmp) throws IOException {
        assertBadInput(
                mutated(tmp, t -> t.put("model.layers.2.mlp.up_proj.weight", FloatTensor.of(new float[4], 2, 2)), null),
                "model.layers.2.mlp.up_proj.weight");
    }

    @Test
    void misshapenTensorIsBadInput(@TempDir Path tmp) throws IOException {
        assertBadInput(
                mutated(
                        tmp,
                        t -> t.put(
                                "model.layers.0.self_attn.k_proj.weight", FloatTensor.of(new float[64 * 64], 64, 64)),
                        null),
                "model.layers.0.self_attn.k_proj.weight");
    }

    @Test
    void unsupportedArchitectureIsBadInput(@TempDir Path tmp) throws IOException {
        String cfg = Files.readString(Fixtures.dir("llama").resolve("config.json"))
                .replace("LlamaForCausalLM", "GPT2LMHeadModel");
        assertBadInput(mutated(tmp, t -> {}, cfg), "GPT2LMHeadModel");
    }
}
