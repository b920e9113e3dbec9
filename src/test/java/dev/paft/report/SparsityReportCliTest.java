package dev.paft.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.cli.Paft;
import dev.paft.io.Json;
import dev.paft.testutil.TestAdapters;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code paft sparsity-report} end to end: real adapter directories, output files and exit codes. */
class SparsityReportCliTest {
    @TempDir
    Path tmp;

    Path sft;
    Path dpo;
    StringWriter out;
    StringWriter err;

    @BeforeEach
    void adapters() {
        System.setProperty("java.awt.headless", "true");
        sft = TestAdapters.write(TestAdapters.random(11, 3, 4, 8), tmp.resolve("sft"));
        dpo = TestAdapters.write(TestAdapters.random(12, 3, 8, 8), tmp.resolve("dpo"));
    }

    private int run(String... args) {
        CommandLine cl = Paft.commandLine();
        out = new StringWriter();
        err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        return cl.execute(args);
    }

    @Test
    void tableHasOneColumnPerInput() {
        assertEquals(0, run("sparsity-report", "SFT=" + sft, dpo.toString(), "--threads", "2"), err.toString());
        String t = out.toString();
        assertTrue(t.contains("SFT") && t.contains("dpo"), t);
        assertTrue(t.contains("mean over layers, unscaled < 1e-05"), t);
        assertTrue(t.contains("Per layer"), t);
        // the header row names both inputs in order
        String header = t.lines()
                .filter(l -> l.contains("SFT") && l.contains("dpo"))
                .findFirst()
                .orElseThrow();
        assertTrue(header.indexOf("SFT") < header.indexOf("dpo"));
    }

    @Test
    void jsonAgreesWithTheApi() throws Exception {
        Path json = tmp.resolve("out/report.json");
        assertEquals(
                0,
                run(
                        "sparsity-report",
                        sft.toString(),
                        dpo.toString(),
                        "--label",
                        "SFT",
                        "--label",
                        "DPO",
                        "--format",
                        "json",
                        "-t",
                        "1e-5,1e-4",
                        "--output",
                        json.toString()),
                err.toString());
        assertEquals("", out.toString());
        JsonNode root = Json.readObject(json);
        assertEquals(2, root.get("thresholds").size());
        JsonNode in = root.get("inputs").get(1);
        assertEquals("DPO", in.get("label").asText());
        assertEquals(3, in.get("layers").size());
        assertEquals(21, in.get("modules").size());
        double expected = SparsityReport.compute(
                        List.of(ReportInput.adapter("DPO", dpo)), new ReportOptions(List.of(1e-5, 1e-4), false, 1))
                .inputs()
                .get(0)
                .meanLayerFraction(View.UNSCALED, 1);
        assertEquals(expected, in.get("mean_over_layers").get("unscaled").get(1).asDouble(), 0);
    }

    @Test
    void csvIsLongForm() throws Exception {
        assertEquals(0, run("sparsity-report", sft.toString(), "--format", "csv"), err.toString());
        String[] lines = out.toString().split("\n");
        assertEquals(ReportFormats.CSV_HEADER, lines[0]);
        int cols = ReportFormats.CSV_HEADER.split(",").length;
        for (String l : lines) {
            assertEquals(cols, l.split(",", -1).length, l);
        }
        // 2 mean rows + (1 all + 3 layers + 7 types + 21 modules) x 2 views
        assertEquals(1 + 2 + 32 * 2, lines.length);
    }

    @Test
    void chartsAreWrittenAndNonEmpty() throws Exception {
        Path png = tmp.resolve("charts/sparsity.png");
        Path svg = tmp.resolve("charts/sparsity.svg");
        Path hist = tmp.resolve("charts/hist.png");
        assertEquals(
                0,
                run(
                        "sparsity-report",
                        "SFT=" + sft,
                        "DPO=" + dpo,
                        "--plot",
                        png.toString(),
                        "--histogram",
                        hist.toString()),
                err.toString());
        assertEquals(0, run("sparsity-report", "SFT=" + sft, "--scaled", "--plot", svg.toString()), err.toString());
        for (Path p : new Path[] {png, hist}) {
            byte[] b = Files.readAllBytes(p);
            assertTrue(b.length > 1000 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G', p.toString());
        }
        assertTrue(Files.readString(svg).contains("<svg"));
    }

    @Test
    void exitCodes() throws Exception {
        assertEquals(3, run("sparsity-report", tmp.resolve("missing").toString()));
        assertTrue(err.toString().contains("missing"), err.toString());
        assertEquals(2, run("sparsity-report", sft.toString(), "--no-such-flag"));
        assertEquals(2, run("sparsity-report"));
        assertEquals(2, run("sparsity-report", sft.toString(), "--threshold", "-1"));
        assertEquals(2, run("sparsity-report", sft.toString(), "--threshold", "abc"));
        assertEquals(
                2,
                run(
                        "sparsity-report",
                        sft.toString(),
                        "--plot",
                        tmp.resolve("x.gif").toString()));
        assertEquals(2, run("sparsity-report", sft.toString(), dpo.toString(), "--label", "only-one"));
        assertEquals(2, run("sparsity-report", "A=" + sft, "A=" + dpo));
        Files.createDirectories(tmp.resolve("model"));
        assertEquals(3, run("sparsity-report", tmp.resolve("model").toString()));
        assertTrue(err.toString().contains("--base"), err.toString());
    }
}
