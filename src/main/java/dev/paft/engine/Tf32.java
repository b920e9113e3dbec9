package dev.paft.engine;

import ai.djl.Device;
import dev.paft.errors.PaftException;
import org.bytedeco.pytorch.Context;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code training.tf32}: whether float32 matmuls (cuBLAS) and cuDNN ops on CUDA may run on TF32 tensor cores (10-bit
 * mantissa products, float32 accumulation), as transformers' {@code TrainingArguments.tf32}: {@code true} sets
 * PyTorch's {@code torch.backends.cuda.matmul.allow_tf32} and {@code torch.backends.cudnn.allow_tf32}, {@code false}
 * clears both, {@code null} (the default) leaves libtorch as it starts: exact float32 matmuls unless the environment
 * sets {@value #OVERRIDE_ENV}=1 (scripts/paft does, unless {@code PAFT_TF32=0}).
 *
 * <p>DJL has no such switch; JavaCPP's binding of libtorch's {@code at::Context} sets it in-process. In external mode
 * (DJL alone on the user's libtorch) only the environment variable can, so a setting it contradicts is a usage error.
 * libtorch 2.7.1 reads {@value #OVERRIDE_ENV} once, at the first {@code Context::allowTF32CuBLAS} query, and then it
 * wins over the in-process switch: {@code false} with it set removes it from the process environment before that
 * query (scripts/paft exports it by default), checked by reading the state back (a usage error if it already latched). The CPU has no TF32: there the switch changes
 * nothing (checked: {@code Tf32Test}) and a run says so once.
 */
public final class Tf32 {
    private static final Logger LOG = LoggerFactory.getLogger(Tf32.class);
    /** libtorch's environment override: "1" forces TF32 for cuBLAS float32 matmuls. */
    public static final String OVERRIDE_ENV = "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE";

    private static volatile boolean cpuNoted;

    private Tf32() {}

    /** Applies {@code setting} (null = leave libtorch's state) for a run on {@code device} (null = CPU). */
    public static void apply(Boolean setting, Device device) {
        apply(setting, device, System.getenv(OVERRIDE_ENV));
    }

    static void apply(Boolean setting, Device device, String overrideEnv) {
        if (setting == null) {
            return;
        }
        boolean forced = "1".equals(overrideEnv == null ? null : overrideEnv.strip());
        if (!TorchBootstrap.bridgeAvailable()) {
            if (!setting && forced) {
                throw PaftException.usage(forcedMessage(overrideEnv));
            }
            if (setting && !forced) {
                throw PaftException.usage("training.tf32: true cannot be set in-process on the libtorch in "
                        + "PYTORCH_LIBRARY_PATH (DJL alone): export " + OVERRIDE_ENV + "=1 before java starts");
            }
            return; // the environment already says what was asked
        }
        if (!setting && forced) {
            // libtorch reads the variable once, at its first TF32 query (the first float32 cuBLAS matmul): removed
            // from the process environment before that, the setting decides; the read-back below tells
            LibC.INSTANCE.unsetenv(OVERRIDE_ENV);
            LOG.info(
                    "training.tf32: false: removed {}={} (exported by scripts/paft unless PAFT_TF32=0) from the process",
                    OVERRIDE_ENV,
                    overrideEnv);
        }
        Context c = torch.globalContext();
        c.setAllowTF32CuBLAS(setting); // float32_matmul_precision: "high" (true) or "highest" (false)
        c.setAllowTF32CuDNN(setting);
        if (c.allowTF32CuBLAS() != setting) {
            throw PaftException.usage(forcedMessage(overrideEnv));
        }
        if (device == null || !device.isGpu()) {
            if (!cpuNoted) {
                cpuNoted = true;
                LOG.info("training.tf32: {} has no effect on the CPU (TF32 is a CUDA tensor-core mode)", setting);
            }
        } else {
            LOG.debug(
                    "training.tf32: {}: float32 matmuls and cuDNN on {} {}",
                    setting,
                    device,
                    setting ? "may use TF32" : "exact");
        }
    }

    private static String forcedMessage(String overrideEnv) {
        return "training.tf32: false, but the environment sets " + OVERRIDE_ENV + "=" + overrideEnv
                + ", which makes libtorch use TF32 whatever paft asks: unset it before java starts"
                + " (PAFT_TF32=0 with scripts/paft)";
    }

    /** The C library's environment (libtorch reads the override through it, not through Java's copy). */
    interface LibC extends com.sun.jna.Library {
        LibC INSTANCE = com.sun.jna.Native.load("c", LibC.class);

        int unsetenv(String name);

        int setenv(String name, String value, int overwrite);
    }

    /** libtorch's current cuBLAS TF32 state (the environment override included); needs JavaCPP's libtorch. */
    public static boolean cublasAllowed() {
        return torch.globalContext().allowTF32CuBLAS();
    }

    /** libtorch's current cuDNN TF32 state; needs JavaCPP's libtorch. */
    public static boolean cudnnAllowed() {
        return torch.globalContext().allowTF32CuDNN();
    }
}
