package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import dev.paft.testutil.Cli;
import dev.paft.testutil.DemoModelTest;
import dev.paft.train.GoodCheckpoint;
import dev.paft.train.ResumeCheck;
import dev.paft.train.TrainState;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/** Issue 19 items 7 and 16: --resume with a changed config, damaged or non-finite checkpoints. */
class ResumeAttackTest extends DemoModelTest {
    /** A run of 4 steps with checkpoints 2 and 4, made unfinished (as if killed after checkpoint 4). */
    static Path unfinished(String name) throws Exception {
        Path out = tmp.resolve(name);
        Cli.Run r = Attack.cli(Attack.sft(model, out));
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

    @Test
    void resumeWithAChangedLearningRateOrDataIsRefusedListingTheChanges() throws Exception {
        Path out = unfinished("changed");
        byte[] config = Files.readAllBytes(out.resolve("training_config.yaml"));
        Path otherData = Files.copy(Attack.DATA.resolve("sft_train.jsonl"), tmp.resolve("other.jsonl"));
        String[] a = Attack.sft(model, out, "--resume", "--lr", "5e-2", "--set", "lora.dropout=0.2");
        for (int i = 0; i < a.length; i++) {
            if (a[i].equals("--train")) {
                a[i + 1] = otherData.toString();
            }
        }
        Cli.Run r = Attack.cli(a);
        assertEquals(2, r.code(), r.all());
        String err = r.err();
        assertTrue(err.contains("cannot resume"), err);
        assertTrue(err.contains("3 setting(s)"), err);
        assertTrue(err.contains("training.learning_rate 0.01 -> 0.05"), err);
        assertTrue(err.contains("data.train "), err);
        assertTrue(err.contains("lora.dropout 0.05 -> 0.2"), err);
        assertArrayEquals(
                config,
                Files.readAllBytes(out.resolve("training_config.yaml")),
                "training_config.yaml is not rewritten");
        assertFalse(Files.exists(out.resolve("paft_state.json")));
    }

    @Test
    void resumeWithMoreStepsAndOtherCadenceIsAllowedAndSaysSo() throws Exception {
        Path out = unfinished("longer");
        Cli.Run r =
                Attack.cli(Attack.sft(model, out, "--resume", "--max-steps", "6", "--set", "training.save_steps=3"));
        assertEquals(0, r.code(), r.all());
        String yaml = Files.readString(out.resolve("training_config.yaml"));
        assertTrue(yaml.contains("max_steps: 6"), yaml);
        assertEquals(6, TrainState.read(out).orElseThrow().step(), r.all());
        // the same data file spelled as an absolute path is the same file: allowed
        Path again = unfinished("spelled");
        String[] a = Attack.sft(model, again, "--resume");
        for (int i = 0; i < a.length; i++) {
            if (a[i].equals("--train")) {
                a[i + 1] = Path.of(a[i + 1]).toAbsolutePath().toString();
            }
        }
        assertEquals(0, Attack.cli(a).code());
    }

    @Test
    void resumeCheckClassifiesKeys() {
        String a =
                "training:\n  learning_rate: 0.001\n  max_steps: 10\n  seed: 1\nmerge:\n  method: ties\ndata:\n  eval: a.jsonl\n";
        String b =
                "training:\n  learning_rate: 0.001\n  max_steps: 20\n  seed: 1\nmerge:\n  method: linear\ndata:\n  eval: b.jsonl\n";
        assertEquals(
                List.of("data.eval a.jsonl -> b.jsonl", "training.max_steps 10 -> 20"),
                ResumeCheck.check(a, b, "x").stream().map(Object::toString).toList());
        String c = b.replace("seed: 1", "seed: 2");
        PaftException e = Assertions.assertThrows(PaftException.class, () -> ResumeCheck.check(a, c, "x"));
        assertEquals(2, e.exitCode());
        assertTrue(
                e.getMessage().contains("training.seed 1 -> 2")
                        && !e.getMessage().contains("max_steps 10"),
                e.getMessage());
    }

    @Test
    void resumeFromATruncatedOptimizerStateSaysTruncated() throws Exception {
        Path out = unfinished("truncated");
        Path opt = out.resolve("checkpoint-4").resolve("optimizer.bin");
        byte[] all = Files.readAllBytes(opt);
        Files.write(opt, Arrays.copyOf(all, all.length / 2));
        Cli.Run r = Attack.cli(Attack.sft(model, out, "--resume"));
        assertEquals(3, r.code(), r.all());
        assertTrue(r.err().contains(opt + ": truncated (the file ends after " + all.length / 2 + " bytes"), r.err());
        assertFalse(r.err().contains("null"), r.err());
        Files.write(opt, Arrays.copyOf(all, 6)); // inside the header
        r = Attack.cli(Attack.sft(model, out, "--resume"));
        assertEquals(3, r.code(), r.all());
        assertTrue(r.err().contains("truncated"), r.err());
    }

    @Test
    void resumeNeverCallsACheckpointHoldingNanGood() throws Exception {
        Path out = unfinished("nan");
        Path ck2 = out.resolve("checkpoint-2");
        Path ck4 = out.resolve("checkpoint-4");
        assertTrue(GoodCheckpoint.finite(ck4));
        poison(ck4.resolve("adapter_model.safetensors"));
        assertFalse(GoodCheckpoint.finite(ck4));
        assertEquals(Optional.of(ck2), GoodCheckpoint.before(out, ck4, Integer.MAX_VALUE));
        assertTrue(GoodCheckpoint.describe(Optional.of(ck2), ck4).startsWith("last good checkpoint: " + ck2));
        poison(ck2.resolve("adapter_model.safetensors"));
        Optional<Path> none = GoodCheckpoint.before(out, ck4, Integer.MAX_VALUE);
        assertEquals(Optional.empty(), none);
        String msg = GoodCheckpoint.describe(none, ck4);
        assertTrue(msg.startsWith("no good checkpoint is left") && !msg.contains("last good"), msg);
    }

    /** Sets one F32 weight of a safetensors file to NaN (the first element of its data section). */
    static void poison(Path file) throws Exception {
        byte[] b = Files.readAllBytes(file);
        long header = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String json = new String(b, 8, (int) header, StandardCharsets.UTF_8);
        assertTrue(json.contains("\"F32\""), json);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putFloat(8 + (int) header, Float.NaN);
        Files.write(file, b);
    }
}
