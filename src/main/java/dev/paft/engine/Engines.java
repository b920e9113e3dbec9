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
    /** {@link #parseDevice}'s value for "auto". */
    static final int AUTO = -2;

    private static volatile Engine engine;

    private Engines() {}

    /**
     * Starts the engine (once per process) and resolves {@code device}: "cpu", "cuda", "cuda:N" or "auto".
     * Asking for CUDA where none is usable is a usage error (exit 2) saying why ({@link CudaUnavailable}); the CPU-only
     * jar refuses it before loading anything. "auto" is cuda:0 when a GPU is usable, else the CPU with an info line.
     *
     * @param threads intra-op threads; 0 keeps PyTorch's default (all cores)
     */
    public static synchronized Device start(String device, int threads) {
        String dev = device == null ? "cpu" : device;
        int gpu = parseDevice(dev); // a bad device string fails before the (slow) engine start
        if (threads < 0) {
            throw PaftException.usage("--threads " + threads + ": must be >= 0 (0 = all cores)");
        }
        if (gpu >= 0 && TorchBootstrap.externalLibtorch() == null && !TorchBootstrap.cudaNativesOnClasspath()) {
            throw PaftException.usage(CudaUnavailable.cpuOnlyBuild(dev));
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
        if (d.isGpu() && !TorchBootstrap.bridgeAvailable() && System.getenv(Tf32.OVERRIDE_ENV) == null) {
            LOG.info(
                    "float32 matmuls on {} run without TF32: this external libtorch cannot be switched in-process;"
                            + " export {}=1 before java starts (scripts/paft does) for tensor cores",
                    dev,
                    Tf32.OVERRIDE_ENV);
        }
        return d;
    }

    /**
     * The device a string names ("cpu", "cuda", "cuda:N") without starting the engine: for plans and dry runs,
     * which check it against nothing but its memory. A bad string is a usage error (exit 2).
     */
    public static Device named(String device) {
        int gpu = parseDevice(device == null ? "cpu" : device);
        if (gpu == AUTO) {
            boolean cudaLibtorch = TorchBootstrap.externalLibtorch() != null || TorchBootstrap.cudaNativesOnClasspath();
            return cudaLibtorch && CudaProbe.gpuCountWithoutEngine() > 0 ? Device.gpu(0) : Device.cpu();
        }
        return gpu < 0 ? Device.cpu() : Device.gpu(gpu);
    }

    /**
     * Checks {@code device} and {@code threads} as {@link #start} does, without starting the engine (for
     * {@code --dry-run}, which plans for a device it does not use: a GPU run can be planned on a machine without one);
     * returns the device named, whose memory the plan is checked against.
     */
    public static Device check(String device, int threads) {
        CudaProbe.quiet(); // the GPU memory look-up probes the CUDA runtime
        Device d = named(device);
        if (threads < 0) {
            throw PaftException.usage("--threads " + threads + ": must be >= 0 (0 = all cores)");
        }
        return d;
    }

    /** Starts on CPU with PyTorch's default thread count. */
    public static Device cpu() {
        return start("cpu", 0);
    }

    /**
     * Parses a device string: -1 for "cpu", {@link #AUTO} for "auto", the GPU index for "cuda", "gpu" or "cuda:N".
     * Anything else is a usage error (exit 2). Starts nothing.
     */
    static int parseDevice(String device) {
        String d = device.trim().toLowerCase();
        if (d.equals("cpu")) {
            return -1;
        }
        if (d.equals("auto")) {
            return AUTO;
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
        throw PaftException.usage("--device " + device + ": expected cpu, cuda, cuda:N or auto");
    }

    private static Device resolve(String device, int index) {
        if (index == -1) {
            return Device.cpu();
        }
        // DJL counts GPUs through the CUDA runtime alone: with a CPU libtorch a GPU it counts cannot be used
        String external = TorchBootstrap.externalLibtorch();
        boolean cudaLibtorch =
                external != null ? !cpuFlavor(System.getenv("PYTORCH_FLAVOR")) : TorchBootstrap.isCudaBuild();
        int count = cudaLibtorch ? engine.getGpuCount() : 0;
        if (count == 0) {
            String why = CudaUnavailable.message(device, facts());
            if (index == AUTO) {
                LOG.info(
                        "--device auto: running on the CPU: {}",
                        why.substring(why.indexOf(':') + 2).replace(", or use --device cpu", ""));
                return Device.cpu();
            }
            throw PaftException.usage(why);
        }
        if (index == AUTO) {
            return Device.gpu(0);
        }
        if (index >= count) {
            throw PaftException.usage("--device " + device + ": only " + count + " GPU(s) found");
        }
        return Device.gpu(index);
    }

    /** True for an external libtorch's PYTORCH_FLAVOR that has no CUDA (unset counts as cpu, as DJL's default). */
    static boolean cpuFlavor(String flavor) {
        return flavor == null
                || flavor.isBlank()
                || flavor.strip().toLowerCase().startsWith("cpu");
    }

    /** What is known about CUDA here, after the engine started. */
    private static CudaUnavailable.Facts facts() {
        String external = TorchBootstrap.externalLibtorch();
        return new CudaUnavailable.Facts(
                TorchBootstrap.isCudaBuild(),
                external,
                external == null ? null : System.getenv("PYTORCH_FLAVOR"),
                CudaProbe.driverLoadable(),
                CudaProbe.reason(),
                System.getenv("CUDA_VISIBLE_DEVICES"));
    }
}
