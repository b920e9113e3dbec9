package dev.paft.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.L1Target;
import dev.paft.config.LoraConfig;
import dev.paft.config.LossType;
import dev.paft.config.OrpoNll;
import dev.paft.data.PreferenceExample;
import dev.paft.data.SftExample;
import dev.paft.engine.Engines;
import dev.paft.io.HfModelConfig;
import dev.paft.lora.LoraAdapter;
import dev.paft.lora.LoraModule;
import dev.paft.model.Autograd;
import dev.paft.model.LlamaModel;
import dev.paft.testutil.TinyModels;
import dev.paft.train.loss.L1Penalty;
import dev.paft.train.loss.PreferenceLoss;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Activation checkpointing and the chunked LM head change memory, not results: every objective's loss and
 * LoRA gradients are the same with checkpointing on and off, for several chunk sizes, with LoRA dropout on
 * (the recompute replays the forward's masks). And gradient accumulation weighs SFT micro-batches by their
 * labelled tokens: batch 4 x accumulation 1 equals batch 2 x accumulation 2.
 */
class GradientCheckpointingTest {
    static final double TOL = 1e-6;
    static Device cpu;
    static LlamaModel model;
    static LoraAdapter adapter;

    @BeforeAll
    static void setUp() {
        cpu = Engines.start("cpu", 0);
        ObjectNode c = TinyModels.llamaConfig(97, 32, 48, 3, 4, 2);
        c.put("max_position_embeddings", 128);
        model = LlamaModel.random(HfModelConfig.parse(c, "ckpt-test"), 11, cpu, false);
        adapter = model.newAdapter(
                new LoraConfig(
                        4,
                        8,
                        0.2,
                        List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                        false),
                5,
                "test");
        // B = 0 at init would make every A gradient 0: give B values so both factors are checked.
        SplittableRandom r = new SplittableRandom(3);
        boolean was = Autograd.setGradMode(false);
        try (NDManager m = model.manager().newSubManager()) {
            for (LoraModule mod : adapter.modules().values()) {
                float[] v = new float[Math.toIntExact(mod.b().size())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (r.nextDouble() - 0.5) * 0.2f;
                }
                mod.b().addi(m.create(v, mod.b().getShape()));
            }
        } finally {
            Autograd.setGradMode(was);
        }
    }

    @AfterAll
    static void tearDown() {
        adapter.close();
        model.close();
    }

    static int[] ids(SplittableRandom r, int n) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) {
            x[i] = 1 + r.nextInt(96);
        }
        return x;
    }

    static List<SftExample> sft(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        List<SftExample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 5 + r.nextInt(12);
            int[] x = ids(r, len);
            int[] labels = x.clone();
            int prompt = 1 + r.nextInt(len - 2);
            for (int t = 0; t < prompt; t++) {
                labels[t] = SftExample.IGNORE;
            }
            out.add(new SftExample(x, labels));
        }
        return out;
    }

    static List<PreferenceExample> pairs(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        List<PreferenceExample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new PreferenceExample(
                    ids(r, 3 + r.nextInt(5)), ids(r, 2 + r.nextInt(6)), ids(r, 2 + r.nextInt(6))));
        }
        return out;
    }

    /** Loss and gradients (by parameter name) of one micro-batch through the loop's backward. */
    static <E> Map<String, float[]> step(LoraPolicy policy, Objective<E> objective, List<E> batch, double[] loss) {
        Map<String, float[]> grads = new LinkedHashMap<>();
        try (NDManager scope = model.manager().newSubManager()) {
            boolean was = Autograd.setGradMode(true);
            try {
                policy.seedDropout(1234);
                Objective.Output o = objective.forward(scope, batch, true);
                TrainingLoop.backward(scope, o, 1.0);
                loss[0] = o.loss().getFloat();
            } finally {
                Autograd.setGradMode(was);
            }
            for (var e : policy.parameters().entrySet()) {
                NDArray g = e.getValue().getGradient();
                g.attach(scope);
                grads.put(e.getKey(), g.toFloatArray());
                JniUtils.zeroGrad((PtNDArray) e.getValue());
            }
        }
        return grads;
    }

    static void assertSame(Map<String, float[]> a, Map<String, float[]> b, double tol, String what) {
        double worst = 0;
        for (String k : a.keySet()) {
            float[] x = a.get(k);
            float[] y = b.get(k);
            double num = 0;
            double den = 0;
            for (int i = 0; i < x.length; i++) {
                num += (x[i] - y[i]) * (double) (x[i] - y[i]);
                den += (double) y[i] * y[i];
            }
            double rel = Math.sqrt(num / Math.max(den, 1e-30));
            worst = Math.max(worst, rel);
            assertTrue(den > 0, what + ": gradient of " + k + " is zero, the test would prove nothing");
            assertTrue(rel <= tol, what + ": gradient of " + k + " differs, rel " + rel);
        }
        System.out.printf("%s: worst gradient rel diff %.2e%n", what, worst);
    }

    static <E> void compare(Function<LoraPolicy, Objective<E>> objective, List<E> batch, String what) {
        LoraPolicy plain = new LoraPolicy(model, adapter, false, 1 << 20);
        double[] l0 = new double[1];
        Map<String, float[]> ref = step(plain, objective.apply(plain), batch, l0);
        for (int chunk : new int[] {1 << 20, 7, 1}) {
            LoraPolicy ckpt = new LoraPolicy(model, adapter, true, chunk);
            double[] l1 = new double[1];
            Map<String, float[]> got = step(ckpt, objective.apply(ckpt), batch, l1);
            assertEquals(l0[0], l1[0], TOL * Math.abs(l0[0]), what + " loss, chunk " + chunk);
            assertSame(got, ref, TOL, what + " checkpointed, chunk " + chunk);
            LoraPolicy chunkedOnly = new LoraPolicy(model, adapter, false, chunk);
            assertSame(step(chunkedOnly, objective.apply(chunkedOnly), batch, l1), ref, TOL, what + " chunk " + chunk);
        }
    }

    @Test
    void sftWithL1SameGradientsWithAndWithoutCheckpointing() {
        for (L1Target t : L1Target.values()) {
            compare(p -> new SftObjective(p, new L1Penalty(t, 1e-2), 0), sft(1, 3), "SFT + L1 " + t);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sigmoid", "ipo", "hinge", "orpo-completion", "orpo-sequence"})
    void preferenceSameGradientsWithAndWithoutCheckpointing(String name) {
        String loss = name.startsWith("orpo") ? "orpo" : name;
        compare(
                p -> new PreferenceObjective(
                        p,
                        PreferenceLoss.create(
                                loss.equals("sigmoid") ? LossType.DPO : LossType.valueOf(loss.toUpperCase(Locale.ROOT)),
                                0.5,
                                0),
                        name.endsWith("sequence") ? OrpoNll.SEQUENCE : OrpoNll.COMPLETION,
                        0),
                pairs(2, 3),
                name);
    }

    @Test
    void recomputeReplaysDropoutMasks() {
        // With dropout the gradient depends on the masks: a different seed gives a different gradient, the same
        // seed the same one, checkpointed or not.
        LoraPolicy plain = new LoraPolicy(model, adapter, false, 1 << 20);
        Objective<SftExample> obj = new SftObjective(plain, new L1Penalty(L1Target.FACTORS, 0), 0);
        List<SftExample> batch = sft(4, 2);
        double[] l = new double[1];
        Map<String, float[]> a = step(plain, obj, batch, l);
        Map<String, float[]> b;
        try (NDManager scope = model.manager().newSubManager()) {
            boolean was = Autograd.setGradMode(true);
            plain.seedDropout(99);
            TrainingLoop.backward(scope, obj.forward(scope, batch, true), 1.0);
            Autograd.setGradMode(was);
            b = new LinkedHashMap<>();
            for (var e : plain.parameters().entrySet()) {
                NDArray g = e.getValue().getGradient();
                g.attach(scope);
                b.put(e.getKey(), g.toFloatArray());
                JniUtils.zeroGrad((PtNDArray) e.getValue());
            }
        }
        String k = a.keySet().iterator().next();
        assertTrue(!Arrays.equals(a.get(k), b.get(k)), "dropout seed has no effect: masks are not drawn");
    }

    @Test
    void sftAccumulationWeighsMicroBatchesByLabelledTokens() {
        // No dropout here: the split into micro-batches must not change the step's gradient.
        try (LoraAdapter noDrop =
                model.newAdapter(new LoraConfig(4, 8, 0.0, List.of("q_proj", "v_proj", "down_proj"), false), 5, "t")) {
            boolean was = Autograd.setGradMode(false);
            try (NDManager m = model.manager().newSubManager()) {
                for (LoraModule mod : noDrop.modules().values()) {
                    mod.b().addi(m.randomUniform(-0.1f, 0.1f, mod.b().getShape()));
                }
            } finally {
                Autograd.setGradMode(was);
            }
            LoraPolicy policy = new LoraPolicy(model, noDrop, true, 5);
            SftObjective obj = new SftObjective(policy, new L1Penalty(L1Target.FACTORS, 1e-2), 0);
            List<SftExample> four = sft(9, 4); // lengths and labelled tokens differ between examples
            double[] whole = new double[1];
            Map<String, float[]> g4 = step(policy, obj, four, whole);

            List<List<SftExample>> micro = List.of(four.subList(0, 2), four.subList(2, 4));
            double[] scale = TrainingLoop.accumulationScales(obj, micro);
            double loss = 0;
            Map<String, float[]> g22;
            try (NDManager scope = model.manager().newSubManager()) {
                boolean w = Autograd.setGradMode(true);
                for (int k = 0; k < 2; k++) {
                    Objective.Output o = obj.forward(scope, micro.get(k), true);
                    TrainingLoop.backward(scope, o, scale[k]);
                    loss += scale[k] * o.loss().getFloat();
                }
                Autograd.setGradMode(w);
                g22 = new LinkedHashMap<>();
                for (var e : policy.parameters().entrySet()) {
                    NDArray g = e.getValue().getGradient();
                    g.attach(scope);
                    g22.put(e.getKey(), g.toFloatArray());
                    JniUtils.zeroGrad((PtNDArray) e.getValue());
                }
            }
            assertEquals(whole[0], loss, 1e-5 * whole[0], "step loss 4x1 vs 2x2");
            assertSame(g22, g4, 1e-5, "SFT 4x1 vs 2x2");
            // the old rule (each micro-batch's mean / 2) differs when the halves hold different token counts
            assertTrue(Math.abs(scale[0] - 0.5) > 1e-3, "test data must have uneven labelled tokens: " + scale[0]);
        }
    }
}
