package dev.paft.report;

import dev.paft.errors.PaftException;
import dev.paft.io.ChartImages;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Charts of a {@link SparsityReport} with XChart, written as PNG or SVG by the file's extension:
 * the per-layer sparsity of every input (the paper's Figure 2) and the distribution of
 * log10 |delta|. Rendering is headless.
 */
public final class SparsityCharts {
    private SparsityCharts() {}

    /** Refuses (exit 2) a chart file whose extension is not .png or .svg. */
    public static void checkExtension(Path file) {
        format(file);
    }

    /**
     * Per-layer share of |delta| below {@code thresholds[t]}, one line per input; the legend gives
     * each input's mean over layers (the Figure 2 number).
     */
    public static void layers(SparsityReport r, View view, int t, Path file) {
        String ext = format(file);
        double thr = r.thresholds().get(t);
        XYChart chart = new XYChartBuilder()
                .width(900)
                .height(500)
                .title("Delta sparsity per layer: |delta| < " + ReportFormats.num(thr) + " (" + view.label() + ")")
                .xAxisTitle("layer")
                .yAxisTitle("sparsity (%)")
                .build();
        style(chart);
        // Inputs often coincide (two dense deltas both near 0%): each gets its own marker shape and
        // dash, and a small sideways offset, so no line hides another.
        org.knowm.xchart.style.markers.Marker[] markers = {
            SeriesMarkers.CIRCLE,
            SeriesMarkers.SQUARE,
            SeriesMarkers.DIAMOND,
            SeriesMarkers.TRIANGLE_UP,
            SeriesMarkers.CROSS,
            SeriesMarkers.TRIANGLE_DOWN
        };
        float[][] dashes = {null, {8f, 4f}, {2f, 3f}, {10f, 3f, 2f, 3f}};
        int n = r.inputs().size();
        int i0 = 0;
        for (InputReport in : r.inputs()) {
            List<GroupStats> layers = in.layers();
            int idx = i0++;
            if (layers.isEmpty()) {
                continue;
            }
            double dodge = n > 1 ? (idx - (n - 1) / 2.0) * Math.min(0.08, 0.3 / n) : 0;
            double[] x = new double[layers.size()];
            double[] y = new double[layers.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = Integer.parseInt(layers.get(i).key()) + (layers.size() > 1 ? dodge : 0);
                y[i] = 100 * layers.get(i).stats(view).fraction(t);
            }
            XYSeries s = chart.addSeries(
                    in.label() + " (mean " + ReportFormats.pct(in.meanLayerFraction(view, t)) + ")", x, y);
            s.setMarker(markers[idx % markers.length]);
            float[] dash = dashes[idx % dashes.length];
            s.setLineStyle(
                    dash == null
                            ? new BasicStroke(2.5f)
                            : new BasicStroke(2.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, dash, 0f));
        }
        double maxLayer = 0;
        for (InputReport in : r.inputs()) {
            for (GroupStats g : in.layers()) {
                maxLayer = Math.max(maxLayer, Integer.parseInt(g.key()));
            }
        }
        // ticks about one per layer on few layers (the offsets are not labelled)
        chart.getStyler()
                .setXAxisMin(-0.5)
                .setXAxisMax(maxLayer + 0.5)
                .setXAxisTickMarkSpacingHint((int) Math.max(60, 700 / (maxLayer + 1)))
                .setXAxisDecimalPattern("#.#");
        chart.getStyler().setMarkerSize(9);

        chart.getStyler().setYAxisMin(-2.0).setYAxisMax(102.0);
        if (chart.getSeriesMap().isEmpty()) {
            throw PaftException.badInput("no input has modules in layers.N; nothing to plot per layer");
        }
        write(chart, ext, file);
    }

    /**
     * Distribution of log10 |delta| (unscaled) per input, as the share of elements per bin
     * (8 bins per factor of 2); exact zeros are counted in the legend. The report must have
     * been computed with a histogram.
     */
    public static void histogram(SparsityReport r, Path file) {
        String ext = format(file);
        XYChart chart = new XYChartBuilder()
                .width(900)
                .height(500)
                .title("Distribution of log10 |delta| (unscaled)")
                .xAxisTitle("log10 |delta|")
                .yAxisTitle("share of elements per bin (%)")
                .build();
        style(chart);
        chart.getStyler().setMarkerSize(0);
        double ymax = 0;
        for (InputReport in : r.inputs()) {
            long[] h = in.histogram();
            if (h == null) {
                throw new IllegalArgumentException("report was computed without a histogram");
            }
            long total = 0;
            int lo = Integer.MAX_VALUE;
            int hi = -1;
            for (int b = 0; b < h.length; b++) {
                total += h[b];
                if (b > 0 && h[b] > 0) {
                    lo = Math.min(lo, b);
                    hi = b;
                }
            }
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            for (int b = lo; b <= hi; b++) {
                x.add(Histogram.log10Centre(b));
                y.add(100.0 * h[b] / total);
                ymax = Math.max(ymax, y.get(y.size() - 1));
            }
            String name =
                    in.label() + String.format(Locale.ROOT, " (%.2f%% exact zeros)", 100.0 * h[0] / Math.max(1, total));
            if (x.isEmpty()) {
                x.add(0.0); // all zeros: an empty line still shows the legend
                y.add(0.0);
            }
            chart.addSeries(name, x, y).setMarker(SeriesMarkers.NONE);
        }
        for (double t : r.thresholds()) {
            double lx = Math.log10(t);
            chart.addSeries("threshold " + ReportFormats.num(t), new double[] {lx, lx}, new double[] {0, ymax})
                    .setMarker(SeriesMarkers.NONE);
        }
        write(chart, ext, file);
    }

    private static void style(XYChart chart) {
        Styler s = chart.getStyler();
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setChartBackgroundColor(Color.WHITE);
    }

    private static String format(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".png")) {
            return "png";
        }
        if (name.endsWith(".svg")) {
            return "svg";
        }
        throw PaftException.usage(file + ": chart files must end in .png or .svg");
    }

    /** Encodes in memory, then writes via a temporary sibling and an atomic rename. */
    private static void write(XYChart chart, String ext, Path file) {
        byte[] bytes = ext.equals("png") ? ChartImages.png(chart) : ChartImages.svg(chart);
        try {
            Path abs = file.toAbsolutePath();
            if (abs.getParent() != null) {
                Files.createDirectories(abs.getParent());
            }
            Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp");
            Files.write(tmp, bytes);
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw PaftException.io("write", file, e);
        }
    }
}
