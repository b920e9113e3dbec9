package dev.paft.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import dev.paft.io.HfModelConfig;

/**
 * Rotary position embedding, HF's rotate_half convention:
 * {@code x' = x * cos(p * f) + rotate_half(x) * sin(p * f)}, {@code rotate_half([x1, x2]) = [-x2, x1]},
 * frequencies {@code f_i = theta^(-2i/d)} duplicated over both halves, optionally adjusted by Llama-3
 * {@code rope_scaling} (low frequencies divided by {@code factor}, a smooth ramp between).
 *
 * <p>cos/sin tables [positions, headDim] are computed once (grown by doubling) on the model's manager.
 */
public final class Rotary {
    private final NDManager manager;
    private final float[] invFreq;
    private final int headDim;
    private NDArray cos;
    private NDArray sin;
    private int capacity;

    Rotary(NDManager manager, HfModelConfig c) {
        this.manager = manager;
        this.invFreq = invFreq(c);
        this.headDim = c.headDim();
    }

    /** Inverse frequencies [headDim / 2], with Llama-3 scaling when configured (as HF computes them). */
    public static float[] invFreq(HfModelConfig c) {
        int d = c.headDim();
        float[] inv = new float[d / 2];
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / d;
            inv[i] = (float) (1.0 / (float) Math.pow(c.ropeTheta(), exponent));
        }
        HfModelConfig.RopeScaling rs = c.ropeScaling();
        if (rs != null && rs.type().equals("llama3")) {
            double old = rs.originalMaxPositionEmbeddings();
            double lowWavelen = old / rs.lowFreqFactor();
            double highWavelen = old / rs.highFreqFactor();
            for (int i = 0; i < inv.length; i++) {
                double wavelen = 2 * Math.PI / inv[i];
                if (wavelen > lowWavelen) {
                    inv[i] = (float) (inv[i] / rs.factor()); // low frequency: slow down
                } else if (wavelen >= highWavelen) { // medium: smooth ramp
                    double smooth = (old / wavelen - rs.lowFreqFactor()) / (rs.highFreqFactor() - rs.lowFreqFactor());
                    inv[i] = (float) ((1 - smooth) * inv[i] / rs.factor() + smooth * inv[i]);
                } // high frequency: unchanged
            }
        }
        return inv;
    }

    private void ensure(int positions) {
        if (positions <= capacity) {
            return;
        }
        int cap = Math.max(256, Integer.highestOneBit(positions - 1) << 1);
        float[] c = new float[cap * headDim];
        float[] s = new float[cap * headDim];
        int half = headDim / 2;
        for (int p = 0; p < cap; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i]; // float32 as HF
                float cv = (float) Math.cos(angle);
                float sv = (float) Math.sin(angle);
                c[p * headDim + i] = cv;
                c[p * headDim + half + i] = cv;
                s[p * headDim + i] = sv;
                s[p * headDim + half + i] = sv;
            }
        }
        if (cos != null) {
            cos.close(); // views already handed out keep their storage alive
            sin.close();
        }
        cos = manager.create(c, new Shape(cap, headDim));
        sin = manager.create(s, new Shape(cap, headDim));
        capacity = cap;
    }

    /** cos and sin for positions {@code offset .. offset+length-1}: two [length, headDim] arrays on {@code scope}. */
    public synchronized NDList tables(NDManager scope, int offset, int length) {
        ensure(offset + length);
        NDIndex rows = new NDIndex("{}:{}", offset, offset + length);
        return new NDList(cos.get(scope, rows), sin.get(scope, rows));
    }

    /** cos and sin gathered at explicit positions [B, T]: two [B, 1, T, headDim] arrays on {@code scope}. */
    public synchronized NDList tables(NDManager scope, NDArray positionIds, int maxPosition) {
        ensure(maxPosition + 1);
        NDArray c = positionIds
                .getNDArrayInternal()
                .embedding(positionIds, cos, SparseFormat.DENSE)
                .singletonOrThrow();
        NDArray s = positionIds
                .getNDArrayInternal()
                .embedding(positionIds, sin, SparseFormat.DENSE)
                .singletonOrThrow();
        c.attach(scope);
        s.attach(scope);
        return new NDList(c.expandDims(1), s.expandDims(1));
    }

    /** {@code x * cos + rotate_half(x) * sin}; x [B, heads, T, D], cos/sin broadcastable to it. */
    public static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        return x.mul(cos).add(rotateHalf(x).mul(sin));
    }

    /** {@code [x1, x2] -> [-x2, x1]} over the last axis. */
    public static NDArray rotateHalf(NDArray x) {
        int last = x.getShape().dimension() - 1;
        NDList halves = x.split(2, last);
        return NDArrays.concat(new NDList(halves.get(1).neg(), halves.get(0)), last);
    }
}
