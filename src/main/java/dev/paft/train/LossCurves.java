package dev.paft.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.io.ChartImages;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    /** Plots the given metric keys (those present) to {@code png}; returns false when nothing was plotted
     *  (no values, or this machine cannot draw charts: a warning says why; training goes on). */
    public static boolean plot(Path metrics, Path png, String title, List<String> keys) {
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
            Files.write(png, ChartImages.png(chart));
        } catch (ChartImages.ChartUnavailable e) {
            LOG.warn("{} not written: {}", png, e.getMessage());
            return false;
        } catch (IOException e) {
            LOG.warn("{} not written: {}", png, e.toString());
            return false;
        }
        return true;
    }
}
