package dev.paft.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.cli.Paft;
import dev.paft.io.Json;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A reduced {@code paft demo} (few steps) through the real CLI: every stage, the table, and a rerun that skips. */
class PaftDemoEndToEndTest {
    @TempDir
    Path tmp;

    @Test
    void reducedDemoProducesTheComparisonAndRerunSkipsCompleteStages() throws Exception {
        Path out = tmp.resolve("demo");
        assertEquals(
                0,
                Paft.execute("demo", "-o", out.toString(), "--sft-steps", "3", "--dpo-steps", "3", "--threads", "2"));
        JsonNode rows = Json.MAPPER.readTree(out.resolve("comparison.json").toFile());
        List<String> names = new ArrayList<>();
        rows.forEach(r -> names.add(r.get("name").asText()));
        // base, SFT, SFT_sparse, preference, 2 sequential, 2 x 5 parallel merges
        assertEquals(16, names.size(), names.toString());
        for (String n : List.of(
                "base",
                "SFT",
                "SFT_sparse",
                "preference",
                "seq:SFT->preference",
                "SFT_sparse+preference/ties",
                "SFT+preference/slerp",
                "SFT_sparse+preference/dare_ties")) {
            assertTrue(names.contains(n), "missing row " + n + " in " + names);
        }
        JsonNode base = rows.get(0).get("metrics");
        for (String m : List.of("task_mc/acc", "pref_mc/acc", "pref/reward_acc", "sft/ppl")) {
            assertTrue(base.has(m), "base lacks " + m + ": " + base);
        }
        assertTrue(rows.get(1).has("sparsity<1e-5"));
        for (String f : List.of(
                "sparsity.png",
                "sparsity.txt",
                "comparison.txt",
                "paft-demo.yaml",
                "SFT/adapter_model.safetensors",
                "preference/loss.png",
                "merged/SFT+preference.ties/model.safetensors")) {
            assertTrue(Files.exists(out.resolve(f)), "missing " + f);
        }

        // Charts and table readable at a glance: DPO's loss, accuracy and margins on 3 panels; a narrow table + the
        // full CSV.
        BufferedImage dpo = ImageIO.read(out.resolve("preference/loss.png").toFile());
        assertEquals(900, dpo.getHeight(), "3 stacked panels of 300 px");
        List<String> table = Files.readAllLines(out.resolve("comparison.txt"));
        assertTrue(table.stream().allMatch(l -> l.length() <= 120), String.join("\n", table));
        assertTrue(
                table.stream()
                        .anyMatch(l -> l.startsWith("columns: task_mc = task_mc/acc, task_mc_n = task_mc/acc_norm")),
                table.toString());
        assertTrue(table.get(table.size() - 1).endsWith("(full keys and precision: comparison.csv)"), table.toString());
        List<String> csv = Files.readAllLines(out.resolve("comparison.csv"));
        assertTrue(csv.get(0).startsWith("model,kind,task_mc/acc,task_mc/acc_norm,pref_mc/acc"), csv.get(0));
        assertEquals(17, csv.size());

        // Rerun: every stage is complete, nothing is retrained or re-merged.
        FileTime adapter = Files.getLastModifiedTime(out.resolve("SFT/adapter_model.safetensors"));
        FileTime merged = Files.getLastModifiedTime(out.resolve("merged/SFT+preference.ties/model.safetensors"));
        assertEquals(
                0, Paft.execute("run", "--config", out.resolve("paft-demo.yaml").toString(), "--threads", "2"));
        assertEquals(adapter, Files.getLastModifiedTime(out.resolve("SFT/adapter_model.safetensors")));
        assertEquals(merged, Files.getLastModifiedTime(out.resolve("merged/SFT+preference.ties/model.safetensors")));

        // File names need no quoting and are valid on Windows; the display name stays in the file.
        try (var files = Files.walk(out)) {
            List<String> bad = files.map(p -> out.relativize(p).toString())
                    .filter(p -> !p.matches("[A-Za-z0-9._+/-]*"))
                    .toList();
            assertTrue(bad.isEmpty(), "unsafe file names: " + bad);
        }
        assertEquals(
                "seq:SFT->preference",
                Json.readObject(out.resolve("eval/seq-SFT-then-preference.json"))
                        .get("name")
                        .asText());

        // A changed stage is refused, naming the change ...
        FileTime pref = Files.getLastModifiedTime(out.resolve("preference/adapter_model.safetensors"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream oldErr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            assertEquals(
                    2,
                    Paft.execute(
                            "demo", "-o", out.toString(), "--sft-steps", "4", "--dpo-steps", "3", "--threads", "2"));
        } finally {
            System.setErr(oldErr);
        }
        String msg = err.toString(StandardCharsets.UTF_8);
        assertTrue(
                msg.contains("stage SFT in " + out + " was made from other inputs (training.max_steps 3 -> 4)")
                        && msg.contains("--overwrite"),
                msg);
        assertEquals(adapter, Files.getLastModifiedTime(out.resolve("SFT/adapter_model.safetensors")));
        // ... and --overwrite redoes it and what reads it, keeping the rest.
        assertEquals(
                0,
                Paft.execute(
                        "demo",
                        "-o",
                        out.toString(),
                        "--sft-steps",
                        "4",
                        "--dpo-steps",
                        "3",
                        "--threads",
                        "2",
                        "--overwrite"));
        assertEquals(
                4,
                Json.readObject(out.resolve("SFT/trainer_state.json"))
                        .get("global_step")
                        .asInt());
        assertTrue(
                Files.getLastModifiedTime(out.resolve("merged/SFT+preference.ties/model.safetensors"))
                                .compareTo(merged)
                        > 0,
                "merge redone");
        assertEquals(
                pref,
                Files.getLastModifiedTime(out.resolve("preference/adapter_model.safetensors")),
                "preference kept");
        assertEquals(
                0,
                Paft.execute("demo", "-o", out.toString(), "--sft-steps", "4", "--dpo-steps", "3", "--threads", "2"));
    }

    @Test
    void runWithoutOutputDirIsAUsageError() throws Exception {
        Path cfg = tmp.resolve("p.yaml");
        Files.writeString(cfg, "model: {path: " + tmp.resolve("nomodel") + "}\n");
        assertEquals(2, Paft.execute("run", "--config", cfg.toString()));
    }
}
