package dev.paft.train;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Training curves from {@code metrics.jsonl} as a PNG: one line per metric against the step. */
public final class LossCurves {
    private LossCurves() {}

    /** Plots the given metric keys (those present) to {@code png}; returns false when nothing to plot. */
    public static boolean plot(Path metrics, Path png, String title, List<String> keys) {
        System.setProperty("java.awt.headless", "true");
        List<JsonNode> rows = MetricsLog.read(metrics);
        XYChart chart = new XYChartBuilder().width(900).height(500).title(title).xAxisTitle("step").yAxisTitle("value").build();
        chart.getStyler().setMarkerSize(4);
        boolean any = false;
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
            if (!xs.isEmpty()) {
                XYSeries s = chart.addSeries(key, xs, ys);
                s.setMarker(xs.size() > 40 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
                any = true;
            }
        }
        if (!any) {
            return false;
        }
        try {
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            return false;
        }
        return true;
    }
}
