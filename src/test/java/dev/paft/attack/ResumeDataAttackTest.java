package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.io.Json;
import dev.paft.testutil.Cli;
import dev.paft.testutil.DemoModelTest;
import dev.paft.train.TrainState;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A data file edited or replaced under the same path is not the data a checkpoint belongs to: --resume refuses it
 * (exit 2, naming the key, the file and what changed) unless --accept-data-change; data.eval may change. Golden sizes
 * and SHA-256 from scripts/golden/data_fingerprints.py (hashlib).
 */
class ResumeDataAttackTest extends DemoModelTest {
    static final long TRAIN_SIZE = 6386;
    static final String TRAIN_SHA256 = "0a3e9272789295fdda22e8c1163185c08974c349b775b2688cf4891f96f5c352";
    static final long EVAL_SIZE = 1084;
    static final String EVAL_SHA256 = "b5f4a0c0fc1ca642c0382dd63170dfd17194379b28a6c2093996e438ce8a3a85";

    /** The CLI with stdout captured too (the training messages go there). */
    static Cli.Run cli(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            Cli.Run r = Cli.paft(args);
            return new Cli.Run(r.code(), r.out() + buf.toString(StandardCharsets.UTF_8), r.err());
        } finally {
            System.setOut(saved);
        }
    }

    /** Copies of the test data in {@code dir}: train and eval. */
    static Path[] data(String dir) throws Exception {
        Path d = Files.createDirectories(tmp.resolve(dir));
        return new Path[] {
            Files.copy(Attack.DATA.resolve("sft_train.jsonl"), d.resolve("sft_train.jsonl")),
            Files.copy(Attack.DATA.resolve("sft_eval.jsonl"), d.resolve("sft_eval.jsonl"))
        };
    }

    static String[] args(Path out, Path[] data, String... extra) {
        List<String> a = new ArrayList<>(List.of("--train", data[0].toString(), "--eval", data[1].toString()));
        a.addAll(List.of(extra));
        return Attack.sft(model, out, a.toArray(String[]::new));
    }

    /** A 4-step run on {@code data}, made unfinished (as if killed after checkpoint 4). */
    static Path unfinished(String name, Path[] data) throws Exception {
        Path out = tmp.resolve(name);
        Cli.Run r = cli(args(out, data));
        assertEquals(0, r.code(), r.all());
        for (String f : List.of(
                "paft_state.json",
                "trainer_state.json",
                "adapter_model.safetensors",
                "adapter_config.json",
                "loss.png")) {
            Files.deleteIfExists(out.resolve(f));
        }
        return out;
    }

    static void assertPrint(JsonNode prints, String file, long size, String sha256) {
        assertEquals(1, prints.size(), prints.toString());
        assertEquals(file, prints.get(0).path("file").asText(), prints.toString());
        assertEquals(size, prints.get(0).path("size").asLong(), prints.toString());
        assertEquals(sha256, prints.get(0).path("sha256").asText(), prints.toString());
    }

    @Test
    void everyDataFileIsRecordedWithItsSizeAndSha256InTheRunsStateAndEachCheckpoint() throws Exception {
        Path[] data = data("recorded-data");
        Path out = tmp.resolve("recorded");
        Cli.Run r = cli(args(out, data));
        assertEquals(0, r.code(), r.all());
        for (Path dir : List.of(out, out.resolve("checkpoint-2"), out.resolve("checkpoint-4"))) {
            JsonNode files = Json.readObject(dir.resolve(TrainState.FILE)).path("dataFiles");
            assertPrint(files.path("data.train"), "sft_train.jsonl", TRAIN_SIZE, TRAIN_SHA256);
            assertPrint(files.path("data.eval"), "sft_eval.jsonl", EVAL_SIZE, EVAL_SHA256);
        }
        assertEquals(4, TrainState.read(out).orElseThrow().step());
    }

    @Test
    void resumeOnAChangedTrainingFileIsRefusedNamingTheFileAndWhatChangedUnlessAccepted() throws Exception {
        Path[] data = data("changed-data");
        Path out = unfinished("changed", data);
        byte[] original = Files.readAllBytes(data[0]);
        byte[] config = Files.readAllBytes(out.resolve("training_config.yaml"));
        // a record appended: the size changed
        String text = new String(original, StandardCharsets.UTF_8);
        Files.writeString(data[0], text + text.lines().findFirst().orElseThrow() + "\n");
        long grown = Files.size(data[0]);
        Cli.Run r = cli(args(out, data, "--resume"));
        assertEquals(2, r.code(), r.all());
        assertEquals(1, r.errLines(), r.err());
        assertTrue(r.err().contains("cannot resume: the data changed since " + out.resolve("checkpoint-4")), r.err());
        assertTrue(
                r.err().contains("data.train (" + data[0] + ": size " + TRAIN_SIZE + " -> " + grown + " bytes)"),
                r.err());
        assertTrue(r.err().contains("--accept-data-change"), r.err());
        assertArrayEquals(config, Files.readAllBytes(out.resolve("training_config.yaml")));
        assertFalse(Files.exists(out.resolve("paft_state.json")), "nothing trained");
        // the same size, one character edited: the content changed
        String edited = text.replaceFirst("eric", "erik");
        assertNotEquals(text, edited);
        Files.writeString(data[0], edited);
        assertEquals(TRAIN_SIZE, Files.size(data[0]));
        r = cli(args(out, data, "--resume"));
        assertEquals(2, r.code(), r.all());
        assertTrue(
                r.err()
                        .contains("data.train (" + data[0] + ": content changed (same size, " + TRAIN_SIZE
                                + " bytes; sha256 " + TRAIN_SHA256.substring(0, 12) + " -> "),
                r.err());
        // accepted: trains on, says so, records the new content
        r = cli(args(out, data, "--resume", "--max-steps", "6", "--accept-data-change"));
        assertEquals(0, r.code(), r.all());
        assertTrue(r.out().contains("warning: --accept-data-change: the data changed since"), r.out());
        JsonNode files = Json.readObject(out.resolve(TrainState.FILE)).path("dataFiles");
        assertEquals(TRAIN_SIZE, files.path("data.train").get(0).path("size").asLong());
        assertNotEquals(
                TRAIN_SHA256, files.path("data.train").get(0).path("sha256").asText());
        assertEquals(6, TrainState.read(out).orElseThrow().step());
    }

    @Test
    void resumeOnAChangedEvalFileIsAllowedAndListed() throws Exception {
        Path[] data = data("eval-data");
        Path out = unfinished("eval", data);
        Files.writeString(data[1], Files.readString(data[1]).replaceFirst("adam", "anna"));
        Cli.Run r = cli(args(out, data, "--resume"));
        assertEquals(0, r.code(), r.all());
        assertTrue(
                r.out()
                        .contains("(allowed on resume; eval metrics from now on are on the new data): data.eval ("
                                + data[1] + ": content changed"),
                r.out());
    }

    @Test
    void aCheckpointFromAnEarlierPaftWithoutFingerprintsResumesWithANote() throws Exception {
        Path[] data = data("legacy-data");
        Path out = unfinished("legacy", data);
        Path state = out.resolve("checkpoint-4").resolve(TrainState.FILE);
        ObjectNode n = (ObjectNode) Json.readObject(state);
        n.remove("dataFiles");
        Files.writeString(state, Json.MAPPER.writeValueAsString(n)); // the previous version's paft_state.json
        Files.writeString(data[0], Files.readString(data[0]).replaceFirst("eric", "erik"));
        Cli.Run r = cli(args(out, data, "--resume"));
        assertEquals(0, r.code(), r.all());
        assertTrue(
                r.out()
                        .contains("was saved by an earlier paft that did not record its data files: their content"
                                + " was not checked"),
                r.out());
        assertTrue(Json.readObject(out.resolve(TrainState.FILE)).has("dataFiles"), "recorded from now on");
    }

    @Test
    void acceptDataChangeWithoutResumeIsAUsageError() throws Exception {
        Path[] data = data("flag-data");
        Cli.Run r = cli(args(tmp.resolve("flag"), data, "--accept-data-change"));
        assertEquals(2, r.code(), r.all());
        assertTrue(r.err().contains("--accept-data-change applies only with --resume"), r.err());
    }
}
