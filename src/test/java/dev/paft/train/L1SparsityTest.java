package dev.paft.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.cli.Paft;
import dev.paft.io.DType;
import dev.paft.io.FloatTensor;
import dev.paft.io.SafetensorsWriter;
import dev.paft.io.TensorStore;
import dev.paft.report.ReportInput;
import dev.paft.report.ReportOptions;
import dev.paft.report.SparsityReport;
import dev.paft.report.View;
import dev.paft.testutil.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PAFT eq. 1: on the same data and seed, l1_lambda > 0 gives a sparser adapter by the Figure 2 metric. */
class L1SparsityTest {
    @TempDir
    Path tmp;

    @Test
    void l1MakesTheSftDeltaSparse() {
        Path model = TinyModels.demo(tmp.resolve("base"));
        Path data = Path.of("src/main/resources/dev/paft/demo/data/sft_train.jsonl");
        for (String lambda : List.of("0", "1e-2")) {
            assertEquals(
                    0,
                    Paft.execute(
                            "train-sft",
                            "--model",
                            model.toString(),
                            "--train",
                            data.toString(),
                            "-o",
                            tmp.resolve("l1_" + lambda).toString(),
                            "--max-steps",
                            "40",
                            "--batch-size",
                            "16",
                            "--lr",
                            "3e-3",
                            "--max-length",
                            "64",
                            "--lora-r",
                            "8",
                            "--l1-lambda",
                            lambda,
                            "--threads",
                            "2",
                            "--set",
                            "training.save_steps=0",
                            "--set",
                            "training.log_steps=40",
                            "--set",
                            "lora.dropout=0"));
        }
        SparsityReport r = SparsityReport.compute(
                List.of(
                        ReportInput.adapter("dense", tmp.resolve("l1_0")),
                        ReportInput.adapter("sparse", tmp.resolve("l1_1e-2"))),
                ReportOptions.defaults());
        double dense = r.input("dense").meanLayerFraction(View.UNSCALED, 0);
        double sparse = r.input("sparse").meanLayerFraction(View.UNSCALED, 0);
        System.out.printf(
                "Figure 2 sparsity (|B@A| < 1e-5, mean over layers): l1=0 %.4f, l1=1e-2 %.4f%n", dense, sparse);
        assertTrue(dense < 0.05, "plain SFT delta should be dense: " + dense);
        assertTrue(sparse > dense + 0.3, "L1 should make the delta sparse: " + sparse + " vs " + dense);
    }

    @Test
    void nonFiniteLossStopsWithExit4AndNoFinishedOutput() throws Exception {
        Path model = TinyModels.demo(tmp.resolve("nanbase"));
        // poison the embedding of every token: the first forward gives a NaN loss
        Map<String, FloatTensor> t = new LinkedHashMap<>();
        try (TensorStore s = TensorStore.openModel(model)) {
            for (String n : s.names()) {
                t.put(n, s.read(n));
            }
        }
        Arrays.fill(t.get("model.embed_tokens.weight").data(), 0, 128 * 40, Float.NaN);
        SafetensorsWriter.writeAll(model.resolve("model.safetensors"), t, DType.F32, Map.of());
        Path out = tmp.resolve("nan");
        assertEquals(
                4,
                Paft.execute(
                        "train-sft",
                        "--model",
                        model.toString(),
                        "--train",
                        "src/main/resources/dev/paft/demo/data/sft_train.jsonl",
                        "-o",
                        out.toString(),
                        "--max-steps",
                        "3",
                        "--batch-size",
                        "8",
                        "--max-length",
                        "64",
                        "--threads",
                        "2"));
        assertTrue(!Files.exists(out.resolve("trainer_state.json")));
        assertTrue(!Files.exists(out.resolve("adapter_model.safetensors")));
    }
}
