package dev.paft.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.io.ChartImages;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Training curves from {@code metrics.jsonl} as a PNG: one line per metric against the step. */
public final class LossCurves {
    private static final Logger LOG = LoggerFactory.getLogger(LossCurves.class);

    private LossCurves() {}

    /**
     * Plots the given metric keys (those present) to {@code png}, one panel per kind of quantity
     * so that none is flattened by another's scale: losses; accuracies (0..1); rewards, margins
     * and log-probabilities; the L1 term. Returns false when nothing was plotted (no values, or
     * this machine cannot draw charts: a warning says why; training goes on).
     */
    public static boolean plot(Path metrics, Path png, String title, List<String> keys) {
        List<JsonNode> rows = MetricsLog.read(metrics);
        Map<String, XYChart> panels = new LinkedHashMap<>();
        for (String key : keys) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (JsonNode r : rows) {
                JsonNode v = r.get(key);
                if (v != null && v.isNumber() && Double.isFinite(v.asDouble())) {
                    xs.add(r.path("step").asDouble());
                    ys.add(v.asDouble());
                }
            }
            if (xs.isEmpty()) {
                continue;
            }
            String panel = panel(key);
            XYChart chart = panels.computeIfAbsent(panel, p -> {
                XYChart c = new XYChartBuilder()
                        .width(900)
                        .height(300)
                        .title(panels.isEmpty() ? title + ": " + p : p)
                        .xAxisTitle("step")
                        .yAxisTitle(p)
                        .build();
                c.getStyler()
                        .setMarkerSize(5)
                        .setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE)
                        .setChartBackgroundColor(Color.WHITE);
                if (p.equals("accuracy")) {
                    c.getStyler().setYAxisMin(0.0).setYAxisMax(1.05);
                }
                return c;
            });
            XYSeries s = chart.addSeries(key, xs, ys);
            s.setMarker(
                    xs.size() > 40
                            ? SeriesMarkers.NONE
                            : key.startsWith("eval_") ? SeriesMarkers.DIAMOND : SeriesMarkers.CIRCLE);
            if (key.startsWith("eval_")) {
                s.setLineStyle(new BasicStroke(
                        2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f}, 0f));
            }
        }
        if (panels.isEmpty()) {
            return false;
        }
        try {
            Files.write(png, ChartImages.pngStack(new ArrayList<>(panels.values())));
        } catch (ChartImages.ChartUnavailable e) {
            LOG.warn("{} not written: {}", png, e.getMessage());
            return false;
        } catch (IOException e) {
            LOG.warn("{} not written: {}", png, e.toString());
            return false;
        }
        return true;
    }

    /** The panel a metric is drawn on (eval_ keys share their training key's panel). */
    static String panel(String key) {
        String k = key.startsWith("eval_") ? key.substring(5) : key;
        if (k.contains("accurac")) {
            return "accuracy";
        }
        if (k.startsWith("rewards/")
                || k.startsWith("logps/")
                || k.startsWith("logits/")
                || k.contains("margin")
                || k.contains("odds")) {
            return "rewards and margins";
        }
        if (k.equals("l1")) {
            return "L1 penalty";
        }
        return "loss";
    }
}
