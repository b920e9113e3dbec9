package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.function.Supplier;

/** Small autograd helpers over DJL's PyTorch JNI: backward of a scalar, no-grad regions. */
public final class Autograd {
    private Autograd() {}

    /** Back-propagates a scalar loss; gradients accumulate into arrays that require them. */
    public static void backward(NDArray loss) {
        NDArray ones = loss.onesLike();                 // on the loss's (step) manager
        JniUtils.backward((PtNDArray) loss, (PtNDArray) ones, false, false);
    }

    /**
     * Turns gradient recording on or off for the calling thread (PyTorch's grad mode is thread-local, and
     * DJL starts with it off: trainers switch it on before the forward whose loss they back-propagate).
     *
     * @return the previous mode, to restore
     */
    public static boolean setGradMode(boolean on) {
        boolean was = JniUtils.isGradMode();
        JniUtils.setGradMode(on);
        return was;
    }

    /** Runs {@code body} with gradient recording on, restoring the previous mode. */
    public static <T> T withGrad(Supplier<T> body) {
        boolean was = setGradMode(true);
        try {
            return body.get();
        } finally {
            JniUtils.setGradMode(was);
        }
    }

    /** Runs {@code body} with gradient recording off, restoring the previous mode. */
    public static <T> T noGrad(Supplier<T> body) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            return body.get();
        } finally {
            JniUtils.setGradMode(grad);
        }
    }
}
