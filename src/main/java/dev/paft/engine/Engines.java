package dev.paft.engine;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.paft.errors.PaftException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that starts DJL's PyTorch engine: offline, over the libtorch {@link TorchBootstrap} loaded
 * (with thread counts set before), on the device the user asked for.
 */
public final class Engines {
    private static final Logger LOG = LoggerFactory.getLogger(Engines.class);
    private static volatile Engine engine;

    private Engines() {}

    /**
     * Starts the engine (once per process) and resolves {@code device}: "cpu", "cuda" or "cuda:N".
     * Asking for CUDA where DJL finds no CUDA libtorch or no GPU is a usage error (exit 2).
     *
     * @param threads intra-op threads; 0 keeps PyTorch's default (all cores)
     */
    public static synchronized Device start(String device, int threads) {
        String dev = device == null ? "cpu" : device;
        int gpu = parseDevice(dev); // a bad device string fails before the (slow) engine start
        if (threads < 0) {
            throw PaftException.usage("--threads " + threads + ": must be >= 0 (0 = all cores)");
        }
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
        if (engine == null) {
            TorchBootstrap.load(threads); // JavaCPP's libtorch first, DJL pointed at the same files
            CudaProbe.quiet();
            try {
                engine = Engine.getEngine("PyTorch");
            } catch (RuntimeException | UnsatisfiedLinkError e) {
                throw new PaftException(
                        PaftException.INTERNAL, "cannot start the PyTorch engine: " + e.getMessage(), e);
            }
        }
        Device d = resolve(dev, gpu);
        if (d.isGpu() && System.getenv("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE") == null) {
            LOG.info(
                    "float32 matmuls on {} run without TF32: launch through scripts/paft (or export "
                            + "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 before java starts) for tensor cores",
                    dev);
        }
        return d;
    }

    /**
     * The device a string names ("cpu", "cuda", "cuda:N") without starting the engine: for plans and dry runs,
     * which check it against nothing but its memory. A bad string is a usage error (exit 2).
     */
    public static Device named(String device) {
        int gpu = parseDevice(device == null ? "cpu" : device);
        return gpu < 0 ? Device.cpu() : Device.gpu(gpu);
    }

    /**
     * Checks {@code device} and {@code threads} as {@link #start} does, without starting the engine (for
     * {@code --dry-run}); returns null, the device a dry run does not use.
     */
    public static Device check(String device, int threads) {
        parseDevice(device == null ? "cpu" : device);
        if (threads < 0) {
            throw PaftException.usage("--threads " + threads + ": must be >= 0 (0 = all cores)");
        }
        return null;
    }

    /** Starts on CPU with PyTorch's default thread count. */
    public static Device cpu() {
        return start("cpu", 0);
    }

    /**
     * Parses a device string: -1 for "cpu", the GPU index for "cuda", "gpu" or "cuda:N".
     * Anything else is a usage error (exit 2). Starts nothing.
     */
    static int parseDevice(String device) {
        String d = device.trim().toLowerCase();
        if (d.equals("cpu")) {
            return -1;
        }
        if (d.equals("cuda") || d.equals("gpu")) {
            return 0;
        }
        if (d.startsWith("cuda:")
                && d.length() > 5
                && d.length() < 9
                && d.substring(5).chars().allMatch(Character::isDigit)) {
            return Integer.parseInt(d.substring(5));
        }
        throw PaftException.usage("--device " + device + ": expected cpu, cuda or cuda:N");
    }

    private static Device resolve(String device, int index) {
        if (index < 0) {
            return Device.cpu();
        }
        int count = engine.getGpuCount();
        if (count == 0) {
            String why = CudaProbe.reason();
            throw PaftException.usage("--device " + device + ": no CUDA GPU is usable: "
                    + (why != null ? "the CUDA probe says \"" + why + "\"; " : "")
                    + "this PyTorch engine is " + engine.getVersion() + " ("
                    + (engine.hasCapability("CUDA") ? "CUDA build" : "CPU-only build")
                    + "); use --device cpu"
                    + (TorchBootstrap.isCudaBuild() ? "" : ", or build the CUDA jar: mvn -Pcuda -DskipTests package"));
        }
        if (index >= count) {
            throw PaftException.usage("--device " + device + ": only " + count + " GPU(s) found");
        }
        return Device.gpu(index);
    }
}
