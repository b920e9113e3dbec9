package dev.paft.engine;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import org.slf4j.LoggerFactory;

/**
 * DJL probes CUDA several times while its engine starts, and on a machine with a CUDA toolkit but
 * no usable driver each probe logs "WARN CudaUtils - Failed to detect GPU count: ...". A CPU run
 * cannot act on that, so the probe's logger is kept off the console (unless debug logging, -vv, is
 * on); its first message is kept and named once in the error when the user asked for {@code --device cuda}.
 */
public final class CudaProbe {
    static final String LOGGER = "ai.djl.util.cuda.CudaUtils";
    private static volatile String first;

    private CudaProbe() {}

    /** Diverts the probe's log lines into {@link #reason()}; with debug logging on, they still print. */
    public static synchronized void quiet() {
        if (!(LoggerFactory.getLogger(LOGGER) instanceof Logger log) || log.getAppender("paft-cuda-probe") != null) {
            return;
        }
        boolean debug = ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).isDebugEnabled();
        AppenderBase<ILoggingEvent> keep = new AppenderBase<>() {
            @Override
            protected void append(ILoggingEvent e) {
                if (first == null && e.getLevel().isGreaterOrEqual(Level.WARN)) {
                    first = e.getFormattedMessage();
                }
            }
        };
        keep.setName("paft-cuda-probe");
        keep.setContext(log.getLoggerContext());
        keep.start();
        log.addAppender(keep);
        log.setAdditive(debug);
    }

    /**
     * True when the NVIDIA driver's {@code libcuda.so.1} can be loaded (the CUDA runtime needs it; without it the
     * runtime reports "CUDA driver version is insufficient", the same words as for an old driver).
     */
    static boolean driverLoadable() {
        try {
            com.sun.jna.NativeLibrary.getInstance("libcuda.so.1");
            return true;
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /** GPUs the CUDA runtime counts, without starting the engine (0 when there is none or no runtime). */
    static int gpuCountWithoutEngine() {
        try {
            return ai.djl.util.cuda.CudaUtils.hasCuda() ? ai.djl.util.cuda.CudaUtils.getGpuCount() : 0;
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
    }

    /** The probe's first warning (e.g. "Failed to detect GPU count: CUDA driver version is insufficient ..."), or null. */
    static String reason() {
        return first;
    }
}
