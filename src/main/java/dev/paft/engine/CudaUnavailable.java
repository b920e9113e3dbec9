package dev.paft.engine;

/**
 * Why {@code --device cuda} cannot run here, in one line naming what to do (docs/USER-GUIDE.md, "GPU"). A user who
 * asks for CUDA never silently gets the CPU: every case is a usage error (exit 2) built from {@link Facts}.
 */
public final class CudaUnavailable {
    /** The CUDA version of JavaCPP's GPU libtorch ({@code mvn -Pcuda}). */
    static final String CUDA_VERSION = "12.9";

    private CudaUnavailable() {}

    /**
     * What is known when a CUDA device was asked for and none is usable.
     *
     * @param cudaBuild the jar carries JavaCPP's CUDA libtorch ({@code mvn -Pcuda package})
     * @param external the environment's {@code PYTORCH_LIBRARY_PATH} (DJL alone on the user's libtorch), or null
     * @param externalFlavor the environment's {@code PYTORCH_FLAVOR} in external mode (cpu, cu128, ...), or null
     * @param driverFound {@code libcuda.so.1} (the NVIDIA driver) can be loaded
     * @param runtimeSays the CUDA runtime's first complaint while counting GPUs, or null
     * @param visibleDevices the environment's {@code CUDA_VISIBLE_DEVICES}, or null
     */
    public record Facts(
            boolean cudaBuild,
            String external,
            String externalFlavor,
            boolean driverFound,
            String runtimeSays,
            String visibleDevices) {}

    /** The CPU-only jar: known without loading anything. */
    public static String cpuOnlyBuild(String device) {
        return "--device " + device + ": this paft jar is the CPU-only build (its libtorch has no CUDA): build the GPU"
                + " jar with mvn -Pcuda -DskipTests package (docs/USER-GUIDE.md, \"GPU\"), or use --device cpu";
    }

    /** The one line for {@code device} when no GPU is usable. */
    public static String message(String device, Facts f) {
        String says = f.runtimeSays() == null ? "" : " (the CUDA runtime says \"" + f.runtimeSays() + "\")";
        if (f.external() != null && Engines.cpuFlavor(f.externalFlavor())) {
            return "--device " + device + ": the libtorch in PYTORCH_LIBRARY_PATH=" + f.external()
                    + " is a CPU build (PYTORCH_FLAVOR=" + f.externalFlavor()
                    + "): point PYTORCH_LIBRARY_PATH and PYTORCH_FLAVOR at a CUDA libtorch, unset them to use paft's"
                    + " own (a jar built with mvn -Pcuda -DskipTests package), or use --device cpu";
        }
        if (f.external() == null && !f.cudaBuild()) {
            return cpuOnlyBuild(device);
        }
        String build = f.external() != null
                ? "the CUDA libtorch in PYTORCH_LIBRARY_PATH=" + f.external()
                : "this GPU build (CUDA " + CUDA_VERSION + ")";
        if (!f.driverFound()) {
            return "--device " + device + ": no NVIDIA driver on this machine (libcuda.so.1 cannot be loaded)"
                    + says + ": " + build + " needs an NVIDIA driver for CUDA 12 (R525 or newer) and a GPU; "
                    + "install the driver, or use --device cpu";
        }
        String visible = f.visibleDevices();
        if (visible != null && (visible.isBlank() || visible.strip().startsWith("-1"))) {
            return "--device " + device + ": CUDA_VISIBLE_DEVICES=\"" + visible + "\" hides every GPU" + says
                    + ": unset it or name a GPU, or use --device cpu";
        }
        if (f.runtimeSays() != null && f.runtimeSays().contains("insufficient")) {
            return "--device " + device + ": the NVIDIA driver is too old for " + build + says
                    + ": update it (CUDA 12 needs R525 or newer), or use --device cpu";
        }
        return "--device " + device + ": the NVIDIA driver is installed but sees no usable GPU" + says
                + (visible == null ? "" : " (CUDA_VISIBLE_DEVICES=\"" + visible + "\")")
                + ": check nvidia-smi, or use --device cpu";
    }
}
