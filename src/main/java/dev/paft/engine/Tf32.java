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
 * libtorch 2.7.1 reads {@value #OVERRIDE_ENV} once, as its {@code at::Context} is made: "1" starts the float32
 * matmul precision at "high" instead of "highest"; the in-process setter then wins over it (measured: with the
 * variable set, {@code allowTF32CuBLAS()} is true at start and false after {@code setAllowTF32CuBLAS(false)}), and
 * the state is read back after setting it. The CPU has no TF32: there the switch changes
 * nothing (checked: {@code Tf32Test}) and a run says so once.
 */
public final class Tf32 {
    private static final Logger LOG = LoggerFactory.getLogger(Tf32.class);
    /** libtorch's environment variable: "1" starts cuBLAS float32 matmuls in TF32 (precision "high"). */
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
        Context c = torch.globalContext();
        c.setAllowTF32CuBLAS(setting); // float32_matmul_precision: "high" (true) or "highest" (false)
        c.setAllowTF32CuDNN(setting);
        if (c.allowTF32CuBLAS() != setting) { // libtorch 2.7.1: the setter wins over the variable (read back)
            throw PaftException.usage(forcedMessage(overrideEnv));
        }
        if (!setting && forced) {
            LOG.info(
                    "training.tf32: false overrides {}={} from the environment (scripts/paft exports it unless"
                            + " PAFT_TF32=0): float32 matmuls are exact",
                    OVERRIDE_ENV,
                    overrideEnv);
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
                + ", which makes this libtorch use TF32 whatever paft asks: unset it before java starts"
                + " (PAFT_TF32=0 with scripts/paft)";
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
