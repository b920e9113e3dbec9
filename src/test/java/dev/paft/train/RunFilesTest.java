package dev.paft.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.CodedInputStream;
import dev.paft.cli.Paft;
import dev.paft.io.PeftAdapter;
import dev.paft.testutil.TinyModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run files a training writes for users' tools: transformers' trainer_state.json (exactly the TrainerState
 * dataclass's keys, so {@code TrainerState.load_from_json} accepts it), TensorBoard event files (read back with
 * protobuf's own decoder and TFRecord's CRC-32C), and checkpoints holding a PEFT adapter plus the tokenizer.
 */
class RunFilesTest {
    /** transformers' TrainerState fields (trainer_callback.py, 2025-2026). */
    static final Set<String> TRAINER_STATE_KEYS = new TreeSet<>(List.of(
            "best_global_step",
            "best_metric",
            "best_model_checkpoint",
            "epoch",
            "eval_steps",
            "global_step",
            "is_hyper_param_search",
            "is_local_process_zero",
            "is_world_process_zero",
            "log_history",
            "logging_steps",
            "max_steps",
            "num_input_tokens_seen",
            "num_train_epochs",
            "save_steps",
            "stateful_callbacks",
            "total_flos",
            "train_batch_size",
            "trial_name",
            "trial_params"));

    @TempDir
    Path tmp;

    @Test
    void trainerStateTensorBoardAndCheckpointsAreWhatHuggingFaceToolsRead() throws Exception {
        Path out = tmp.resolve("runfiles");
        Path base = TinyModels.demo(tmp.resolve("base"));
        assertEquals(0, Paft.execute(TrainSftEndToEndTest.args(base, out, "--set", "training.save_total_limit=5")));

        // trainer_state.json: the dataclass's keys, no others; a log entry per logged step and eval, then the summary
        JsonNode st = HfTrainerState.read(out.resolve("trainer_state.json"));
        Set<String> keys = new TreeSet<>();
        st.fieldNames().forEachRemaining(keys::add);
        assertEquals(TRAINER_STATE_KEYS, keys);
        assertEquals(6, st.get("global_step").asInt());
        assertEquals(6, st.get("max_steps").asInt());
        assertEquals(1, st.get("logging_steps").asInt());
        assertEquals(4, st.get("train_batch_size").asInt());
        JsonNode history = st.get("log_history");
        List<JsonNode> train = new ArrayList<>();
        List<JsonNode> evals = new ArrayList<>();
        for (JsonNode h : history) {
            (h.has("eval_loss") ? evals : train).add(h);
        }
        JsonNode summary = train.remove(train.size() - 1);
        assertTrue(
                summary.has("train_runtime") && summary.has("train_loss") && summary.has("train_samples_per_second"),
                summary.toString());
        assertEquals(6, train.size());
        assertEquals(2, evals.size());
        for (JsonNode h : train) {
            for (String k : List.of("step", "epoch", "loss", "learning_rate", "grad_norm")) {
                assertTrue(h.has(k), k + " missing in " + h);
            }
        }
        assertTrue(evals.get(0).has("eval_runtime"));
        assertTrue(Files.isRegularFile(out.resolve(TrainState.FILE)), "paft's own state");
        String text = Files.readString(out.resolve("trainer_state.json"));
        assertTrue(text.contains("\"global_step\": 6"), "Python json.dumps layout");

        // checkpoints: PEFT adapter + tokenizer + both states
        Path ck = out.resolve("checkpoint-6");
        assertEquals(4, PeftAdapter.read(ck).config().r());
        for (String f : List.of(
                "tokenizer.json", "tokenizer_config.json", "trainer_state.json", TrainState.FILE, "optimizer.bin")) {
            assertTrue(Files.isRegularFile(ck.resolve(f)), f + " missing in " + ck);
        }
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));

        // TensorBoard: one event file; every logged step's scalars, tags as transformers writes them
        Path events;
        try (Stream<Path> s = Files.walk(out.resolve("runs"))) {
            events = s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents."))
                    .findFirst()
                    .orElseThrow();
        }
        List<Event> ev = readEvents(events);
        assertEquals("brain.Event:2", ev.get(0).fileVersion);
        Map<String, List<Long>> stepsByTag = new LinkedHashMap<>();
        Map<String, Float> lastByTag = new LinkedHashMap<>();
        for (Event e : ev) {
            for (var v : e.values.entrySet()) {
                stepsByTag.computeIfAbsent(v.getKey(), k -> new ArrayList<>()).add(e.step);
                lastByTag.put(v.getKey(), v.getValue());
            }
        }
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), stepsByTag.get("train/loss"));
        assertEquals(List.of(3L, 6L), stepsByTag.get("eval/loss"));
        assertTrue(stepsByTag.containsKey("train/learning_rate") && stepsByTag.containsKey("train/grad_norm"));
        assertFalse(stepsByTag.containsKey("train/step"));
        List<JsonNode> m = MetricsLog.read(out.resolve("metrics.jsonl"));
        JsonNode lastTrain =
                m.stream().filter(r -> r.has("loss")).reduce((a, b) -> b).orElseThrow();
        assertEquals(lastTrain.get("loss").floatValue(), lastByTag.get("train/loss"), 0f);
    }

    record Event(double wallTime, long step, String fileVersion, Map<String, Float> values) {}

    /** TFRecord framing with CRC checks, then Event/Summary/Value decoded field by field with protobuf's decoder. */
    static List<Event> readEvents(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        List<Event> out = new ArrayList<>();
        while (b.hasRemaining()) {
            byte[] len = new byte[8];
            b.get(len);
            assertEquals(masked(len), b.getInt(), "length CRC");
            byte[] data = new byte
                    [(int) ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong()];
            b.get(data);
            assertEquals(masked(data), b.getInt(), "data CRC");
            out.add(event(CodedInputStream.newInstance(data)));
        }
        return out;
    }

    static int masked(byte[] d) {
        CRC32C c = new CRC32C();
        c.update(d);
        int v = (int) c.getValue();
        return ((v >>> 15) | (v << 17)) + 0xa282ead8;
    }

    static Event event(CodedInputStream in) throws IOException {
        double wall = 0;
        long step = 0;
        String version = null;
        Map<String, Float> values = new LinkedHashMap<>();
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (tag >>> 3) {
                case 1 -> wall = in.readDouble();
                case 2 -> step = in.readInt64();
                case 3 -> version = in.readString();
                case 5 -> {
                    CodedInputStream summary = CodedInputStream.newInstance(in.readByteArray());
                    for (int t = summary.readTag(); t != 0; t = summary.readTag()) {
                        CodedInputStream value = CodedInputStream.newInstance(summary.readByteArray());
                        String name = null;
                        float x = Float.NaN;
                        for (int u = value.readTag(); u != 0; u = value.readTag()) {
                            if (u >>> 3 == 1) {
                                name = value.readString();
                            } else if (u >>> 3 == 2) {
                                x = value.readFloat();
                            } else {
                                value.skipField(u);
                            }
                        }
                        values.put(name, x);
                    }
                }
                default -> in.skipField(tag);
            }
        }
        return new Event(wall, step, version, values);
    }
}
