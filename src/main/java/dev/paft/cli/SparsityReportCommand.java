package dev.paft.cli;

import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.Json;
import dev.paft.io.OutputLocks;
import dev.paft.report.ReportFormats;
import dev.paft.report.ReportInput;
import dev.paft.report.ReportOptions;
import dev.paft.report.SparsityCharts;
import dev.paft.report.SparsityReport;
import dev.paft.report.View;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code paft sparsity-report}: per-layer sparsity of adapters or model deltas, the PAFT paper's
 * Figure 2, as a table with one column per input, JSON or CSV, and charts.
 */
@Command(
        name = "sparsity-report",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Per-layer sparsity of adapters or deltas (the paper's Figure 2): the share of delta elements with "
                    + "|delta| < threshold, L1, L2 and max |delta|, per module, layer and module type, inputs side by side.",
            "Adapters: delta = B @ A, unscaled as in the paper and scaled by alpha/r. Models: delta = model - base (--base).",
            "",
            "Example: paft sparsity-report SFT=runs/sft SFT_sparse=runs/sft-l1 DPO=runs/dpo --plot sparsity.png"
        })
public final class SparsityReportCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Parameters(
            arity = "1..*",
            paramLabel = "[LABEL=]DIR",
            description =
                    "PEFT adapter directories, or model directories with --base; LABEL names the column (default: the directory name).")
    List<String> inputs;

    @Option(
            names = "--label",
            paramLabel = "NAME",
            description = "Column name for the inputs in order (repeatable; overrides LABEL=).")
    List<String> labels = new ArrayList<>();

    @Option(
            names = "--base",
            paramLabel = "DIR",
            description = "Base model directory: model inputs report delta = model - base.")
    Path base;

    @Option(
            names = {"-t", "--threshold"},
            paramLabel = "T",
            split = ",",
            description = "Count |delta| < T (repeatable or comma-separated; default: 1e-5, the paper's).")
    List<Double> thresholds = new ArrayList<>();

    @Option(
            names = "--format",
            paramLabel = "FMT",
            defaultValue = "table",
            description = "table, json or csv (default: ${DEFAULT-VALUE}).")
    OutputFormat format;

    @Option(
            names = "--output",
            paramLabel = "FILE",
            description = "Write the table/JSON/CSV to FILE instead of standard output.")
    Path output;

    @Option(
            names = "--plot",
            paramLabel = "FILE",
            description = "Chart of per-layer sparsity per input (.png or .svg), first threshold.")
    Path plot;

    @Option(
            names = "--histogram",
            paramLabel = "FILE",
            description = "Chart of the distribution of log10 |delta| per input (.png or .svg).")
    Path histogram;

    @Option(
            names = "--scaled",
            description =
                    "Per-layer/per-type tables and the plot use the scaled delta (alpha/r) B @ A instead of the paper's unscaled B @ A.")
    boolean scaled;

    @Option(names = "--modules", description = "Add one table row per module.")
    boolean perModule;

    @Override
    public Integer call() throws IOException {
        try (OutputLocks held = new OutputLocks()) {
            locks = held;
            return run();
        }
    }

    /** Output files checked and locked by {@link #run}, released when {@link #call} returns. */
    private OutputLocks locks;

    private Integer run() throws IOException {
        // 1. check every flag before reading any tensor
        if (!labels.isEmpty() && labels.size() != inputs.size()) {
            throw PaftException.usage(
                    labels.size() + " --label values for " + inputs.size() + " inputs; give one per input or none");
        }
        if (plot != null) {
            SparsityCharts.checkExtension(plot);
        }
        if (histogram != null) {
            SparsityCharts.checkExtension(histogram);
        }
        List<ReportInput> in = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            in.add(parseInput(inputs.get(i), labels.isEmpty() ? null : labels.get(i)));
        }
        ReportOptions opts = new ReportOptions(
                thresholds.isEmpty() ? List.of(ReportOptions.PAPER_THRESHOLD) : thresholds,
                histogram != null,
                common.threads);
        View view = scaled ? View.SCALED : View.UNSCALED;

        locks.file(output, "--output"); // writable and ours before any tensor is read
        locks.file(plot, "--plot");
        locks.file(histogram, "--histogram");
        // 2. measure, then render
        SparsityReport report = SparsityReport.compute(in, opts);
        String text = switch (format) {
            case TABLE -> ReportFormats.table(report, view, perModule);
            case JSON -> Json.MAPPER.writeValueAsString(ReportFormats.json(report)) + "\n";
            case CSV -> ReportFormats.csv(report);
        };
        if (output != null) {
            AtomicFiles.writeString(output, text);
        } else {
            PrintWriter out = spec.commandLine().getOut();
            out.print(text);
            out.flush();
        }
        if (plot != null) {
            SparsityCharts.layers(report, view, 0, plot);
        }
        if (histogram != null) {
            SparsityCharts.histogram(report, histogram);
        }
        return 0;
    }

    /** {@code LABEL=DIR} or {@code DIR}; an argument naming an existing path is always a DIR. */
    private ReportInput parseInput(String arg, String label) {
        int eq = arg.indexOf('=');
        Path dir = Path.of(arg);
        if (eq > 0 && !Files.exists(dir)) {
            if (label == null) {
                label = arg.substring(0, eq);
            }
            dir = Path.of(arg.substring(eq + 1));
        }
        return new ReportInput(label, dir, base);
    }
}
