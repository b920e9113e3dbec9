package dev.paft.engine;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.paft.errors.PaftException;

/**
 * The one place that starts DJL's PyTorch engine: offline, from the bundled CPU natives, with
 * thread counts set before the native library loads, on the device the user asked for.
 */
public final class Engines {
    private static volatile Engine engine;

    private Engines() {}

    /**
     * Starts the engine (once per process) and resolves {@code device}: "cpu", "cuda" or "cuda:N".
     * Asking for CUDA where DJL finds no CUDA libtorch or no GPU is a usage error (exit 2).
     *
     * @param threads intra-op threads; 0 keeps PyTorch's default (all cores)
     */
    public static synchronized Device start(String device, int threads) {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
        if (engine == null) {
            if (threads > 0) {
                System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
                System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
            }
            try {
                engine = Engine.getEngine("PyTorch");
            } catch (RuntimeException | UnsatisfiedLinkError e) {
                throw new PaftException(PaftException.INTERNAL, "cannot start the PyTorch engine: " + e.getMessage(), e);
            }
        }
        return resolve(device == null ? "cpu" : device);
    }

    /** Starts on CPU with PyTorch's default thread count. */
    public static Device cpu() {
        return start("cpu", 0);
    }

    static Device resolve(String device) {
        String d = device.trim().toLowerCase();
        if (d.equals("cpu")) {
            return Device.cpu();
        }
        if (d.equals("cuda") || d.equals("gpu") || d.startsWith("cuda:")) {
            int index = 0;
            if (d.startsWith("cuda:")) {
                try {
                    index = Integer.parseInt(d.substring(5));
                } catch (NumberFormatException e) {
                    throw PaftException.usage("--device " + device + ": expected cpu, cuda or cuda:N");
                }
            }
            int count = engine.getGpuCount();
            if (count == 0) {
                throw PaftException.usage("--device " + device + ": no CUDA GPU is usable: this PyTorch engine is "
                        + engine.getVersion() + " (" + (engine.hasCapability("CUDA") ? "CUDA build" : "CPU-only build")
                        + "); set PYTORCH_FLAVOR=cu128 and PYTORCH_LIBRARY_PATH to a CUDA libtorch 2.7.1 (see docs/BENCHMARKS.md)");
            }
            if (index >= count) {
                throw PaftException.usage("--device " + device + ": only " + count + " GPU(s) found");
            }
            return Device.gpu(index);
        }
        throw PaftException.usage("--device " + device + ": expected cpu, cuda or cuda:N");
    }
}
