package dev.paft.io;

import dev.paft.errors.PaftException;
import java.awt.AWTError;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.HeadlessException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
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
            super(
                    INTERNAL,
                    "cannot draw charts on this machine: Java2D failed (" + cause
                            + "); install the system's font packages (fontconfig, libharfbuzz0b, a TrueType font)",
                    cause);
        }
    }

    public static byte[] png(Chart<?, ?> chart) {
        return render(chart, true);
    }

    public static byte[] svg(Chart<?, ?> chart) {
        return render(chart, false);
    }

    /** Several charts stacked top to bottom in one PNG (all as wide as the widest). */
    public static byte[] pngStack(List<? extends Chart<?, ?>> charts) {
        if (charts.size() == 1) {
            return png(charts.get(0));
        }
        System.setProperty("java.awt.headless", "true");
        try {
            List<BufferedImage> images = new ArrayList<>();
            for (Chart<?, ?> c : charts) {
                images.add(BitmapEncoder.getBufferedImage(c));
            }
            int w = images.stream().mapToInt(BufferedImage::getWidth).max().orElse(1);
            int h = images.stream().mapToInt(BufferedImage::getHeight).sum();
            BufferedImage all = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = all.createGraphics();
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, w, h);
            int y = 0;
            for (BufferedImage im : images) {
                g.drawImage(im, 0, y, null);
                y += im.getHeight();
            }
            g.dispose();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            ImageIO.write(all, "png", bytes);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new PaftException(PaftException.INTERNAL, "cannot encode a chart: " + e.getMessage(), e);
        } catch (LinkageError | AWTError | HeadlessException | InternalError e) {
            throw new ChartUnavailable(e);
        }
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
        } catch (LinkageError | AWTError | HeadlessException | InternalError e) {
            throw new ChartUnavailable(e);
        }
        return bytes.toByteArray();
    }
}
