package dev.paft.io;

import dev.paft.errors.PaftException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * Renders an XChart chart to PNG or SVG bytes, headless. Java2D draws text through native font
 * libraries (libfontmanager needs libharfbuzz, fontconfig and a font): a server image without them
 * makes rendering throw an {@link Error} (seen on a CUDA image: {@code UnsatisfiedLinkError:
 * libharfbuzz.so.0}). That becomes a {@link ChartUnavailable} naming the cause, so a caller that
 * draws a chart as a side product (a training's loss.png, a run's sparsity.png) can warn and go on.
 */
public final class ChartImages {
    private ChartImages() {}

    /** Rendering is impossible on this machine (missing native font support); exit code 1. */
    public static final class ChartUnavailable extends PaftException {
        ChartUnavailable(Throwable cause) {
            super(INTERNAL, "cannot draw charts on this machine: Java2D failed (" + cause
                    + "); install the system's font packages (fontconfig, libharfbuzz0b, a TrueType font)", cause);
        }
    }

    public static byte[] png(Chart<?, ?> chart) {
        return render(chart, true);
    }

    public static byte[] svg(Chart<?, ?> chart) {
        return render(chart, false);
    }

    private static byte[] render(Chart<?, ?> chart, boolean png) {
        System.setProperty("java.awt.headless", "true");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            if (png) {
                BitmapEncoder.saveBitmap(chart, bytes, BitmapEncoder.BitmapFormat.PNG);
            } else {
                VectorGraphicsEncoder.saveVectorGraphic(chart, bytes, VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
            }
        } catch (IOException e) {
            throw new PaftException(PaftException.INTERNAL, "cannot encode a chart: " + e.getMessage(), e);
        } catch (LinkageError | java.awt.AWTError | java.awt.HeadlessException | InternalError e) {
            throw new ChartUnavailable(e);
        }
        return bytes.toByteArray();
    }
}
