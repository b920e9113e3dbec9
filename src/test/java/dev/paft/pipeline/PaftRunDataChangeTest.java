package dev.paft.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.io.Json;
import dev.paft.testutil.Cli;
import dev.paft.testutil.DemoModelTest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * {@code paft run} skips a complete stage only when it was made from the same data content, not only the same data
 * paths: a training file edited in place makes its stage stale (refused, exit 2, naming the stage and the file;
 * --overwrite redoes it). Stamps written before data fingerprints still count as current.
 */
class PaftRunDataChangeTest extends DemoModelTest {
    static Cli.Run run(Path config, Path out, String... extra) {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            String[] args = new String[5 + extra.length];
            System.arraycopy(new String[] {"run", "--config", config.toString(), "-o", out.toString()}, 0, args, 0, 5);
            System.arraycopy(extra, 0, args, 5, extra.length);
            Cli.Run r = Cli.paft(args);
            return new Cli.Run(r.code(), r.out() + buf.toString(StandardCharsets.UTF_8), r.err());
        } finally {
            System.setOut(saved);
        }
    }

    /** A run config of 2-step SFT and preference stages on copies of the test data in {@code dir}. */
    static Path config(Path dir) throws Exception {
        Files.createDirectories(dir);
        Path data = Path.of("src/test/resources/train/data");
        Path sft = Files.copy(data.resolve("sft_train.jsonl"), dir.resolve("sft.jsonl"));
        Path pref = Files.copy(data.resolve("pref_train.jsonl"), dir.resolve("pref.jsonl"));
        return Files.writeString(
                dir.resolve("run.yaml"),
                "model:\n  path: " + model.toAbsolutePath() + "\n"
                        + "lora: {r: 2, alpha: 4}\n"
                        + "data: {max_length: 64, max_prompt_length: 32}\n"
                        + "training: {max_steps: 2, batch_size: 4, save_steps: 2, warmup_steps: 1}\n"
                        + "run:\n  sft:\n    data: {train: " + sft.toAbsolutePath() + "}\n"
                        + "  preference:\n    data: {train: " + pref.toAbsolutePath() + "}\n");
    }

    @Test
    void aRedoThatFailedLeavesTheOldOutputWhichTheNextRunDoesNotTakeForTheNewOne() throws Exception {
        Path config = config(tmp.resolve("failed-redo"));
        Path sft = tmp.resolve("failed-redo").resolve("sft.jsonl");
        Path out = tmp.resolve("failed-redo").resolve("run");
        assertEquals(0, run(config, out, "--threads", "2").code());
        FileTime sftAdapter = Files.getLastModifiedTime(out.resolve("sft/adapter_model.safetensors"));
        Files.writeString(sft, Files.readString(sft) + "not json\n"); // changed, and the redo fails on it
        Cli.Run r = run(config, out, "--threads", "2", "--overwrite");
        assertEquals(3, r.code(), r.all());
        assertEquals(sftAdapter, Files.getLastModifiedTime(out.resolve("sft/adapter_model.safetensors")), "old kept");
        r = run(config, out, "--threads", "2");
        assertEquals(2, r.code(), r.all());
        assertTrue(
                r.err()
                        .contains("stage sft in " + out + " was made from other inputs (a redo with --overwrite did"
                                + " not finish, so its output may still be the one made before)"),
                r.err());
        // fixed data: --overwrite redoes it, and the stage is current again
        Files.writeString(sft, Files.readString(sft).replace("not json\n", ""));
        assertEquals(0, run(config, out, "--threads", "2", "--overwrite").code());
        assertEquals(0, run(config, out, "--threads", "2").code());
    }

    @Test
    void aStageWhoseDataFileChangedInPlaceIsRefusedAndRedoneWithOverwrite() throws Exception {
        Path config = config(tmp);
        Path sft = tmp.resolve("sft.jsonl");
        Path out = tmp.resolve("run");
        Cli.Run r = run(config, out, "--threads", "2");
        assertEquals(0, r.code(), r.all());
        JsonNode stamp =
                Json.readObject(out.resolve(StageStamps.FILE)).path("stages").path("sft");
        assertEquals(
                "size=6386 sha256=0a3e9272789295fdda22e8c1163185c08974c349b775b2688cf4891f96f5c352",
                stamp.path("inputs")
                        .path("data.train file " + sft.toAbsolutePath())
                        .asText(),
                stamp.toString()); // scripts/golden/data_fingerprints.py
        FileTime sftAdapter = Files.getLastModifiedTime(out.resolve("sft/adapter_model.safetensors"));
        FileTime prefAdapter = Files.getLastModifiedTime(out.resolve("preference/adapter_model.safetensors"));

        // edited in place, same size: the finished sft stage is not reused
        Files.writeString(sft, Files.readString(sft).replaceFirst("eric", "erik"));
        r = run(config, out, "--threads", "2");
        assertEquals(2, r.code(), r.all());
        assertTrue(
                r.err()
                        .contains("stage sft in " + out + " was made from other inputs (data.train file "
                                + sft.toAbsolutePath() + " size=6386 sha256=0a3e92727892"),
                r.err());
        assertTrue(r.err().contains("--overwrite"), r.err());
        assertEquals(sftAdapter, Files.getLastModifiedTime(out.resolve("sft/adapter_model.safetensors")));

        // --overwrite redoes it (and what reads it), the preference stage is kept
        r = run(config, out, "--threads", "2", "--overwrite");
        assertEquals(0, r.code(), r.all());
        assertFalse(sftAdapter.equals(Files.getLastModifiedTime(out.resolve("sft/adapter_model.safetensors"))));
        assertEquals(prefAdapter, Files.getLastModifiedTime(out.resolve("preference/adapter_model.safetensors")));

        // stamps of an earlier paft (no data fingerprints) still count as current: nothing is redone
        legacyStamps(out.resolve(StageStamps.FILE));
        sftAdapter = Files.getLastModifiedTime(out.resolve("sft/adapter_model.safetensors"));
        r = run(config, out, "--threads", "2");
        assertEquals(0, r.code(), r.all());
        assertTrue(
                r.out().contains("sft: made by an earlier paft that did not record its data files' content"), r.out());
        assertEquals(sftAdapter, Files.getLastModifiedTime(out.resolve("sft/adapter_model.safetensors")));
    }

    /** Rewrites the stamps as the previous version wrote them: no data file entries, the hashes that follow. */
    static void legacyStamps(Path file) throws Exception {
        ObjectNode root = (ObjectNode) Json.readObject(file);
        ObjectNode stages = (ObjectNode) root.path("stages");
        Map<String, String> rehash = new HashMap<>();
        for (int pass = 0; pass < 2; pass++) { // training stages first, then the stages that name their hashes
            for (Iterator<Map.Entry<String, JsonNode>> it = stages.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                ObjectNode s = (ObjectNode) e.getValue();
                Map<String, String> in = new TreeMap<>();
                boolean data = false;
                for (Iterator<Map.Entry<String, JsonNode>> f = s.path("inputs").fields(); f.hasNext(); ) {
                    Map.Entry<String, JsonNode> kv = f.next();
                    data |= kv.getKey().contains(" file ");
                    if (!kv.getKey().contains(" file ")) {
                        in.put(
                                kv.getKey(),
                                rehash.getOrDefault(
                                        kv.getValue().asText(), kv.getValue().asText()));
                    }
                }
                if (data != (pass == 0)) {
                    continue;
                }
                StageStamps.Stamp st = StageStamps.Stamp.of(in);
                rehash.put(s.path("sha256").asText(), st.hash());
                s.put("sha256", st.hash());
                ObjectNode inputs = s.putObject("inputs");
                st.inputs().forEach(inputs::put);
            }
        }
        Json.write(file, root);
    }
}
