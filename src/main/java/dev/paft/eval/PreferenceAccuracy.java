package dev.paft.eval;

import dev.paft.data.DatasetStats;
import dev.paft.data.PreferenceDataset;
import dev.paft.data.PreferenceDatasetReader;
import dev.paft.data.PreferenceExample;
import dev.paft.data.PreferenceOptions;
import dev.paft.data.SftExample;
import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import dev.paft.lora.LoraAdapter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Preference accuracy with DPO's implicit reward
 * {@code r(x, y) = beta * (log pi(y|x) - log pi_ref(y|x))} (log-probs summed over the completion's
 * tokens, as in DPO): {@code accuracy = mean[r(x, y_chosen) > r(x, y_rejected)]} (strict, as TRL's
 * {@code rewards/accuracies}) and {@code margin = mean[r_chosen - r_rejected]}.
 *
 * <p>The reference is the base model: the policy with its adapter disabled (no second copy of the
 * weights), or a separate model (needed for merged models, whose base is gone). With neither, only
 * the reference-free variant is defined: {@code mean[log pi(y_c|x) > log pi(y_r|x)]}, always reported.
 */
public final class PreferenceAccuracy {
    private PreferenceAccuracy() {}

    /** What the reward's {@code pi_ref} was. */
    public enum Reference {
        /** The policy's own base: its adapter switched off. */
        ADAPTER_DISABLED,
        /** A separate reference model. */
        MODEL,
        /** None: reward metrics are NaN, only the reference-free ones are defined. */
        NONE
    }

    /** Summed completion log-probs of one pair under the policy and the reference (NaN without one). */
    public record PairScore(double policyChosen, double policyRejected, double refChosen, double refRejected) {
        public double chosenReward(double beta) {
            return beta * (policyChosen - refChosen);
        }

        public double rejectedReward(double beta) {
            return beta * (policyRejected - refRejected);
        }
    }

    /**
     * @param accuracy share of pairs with {@code r_chosen > r_rejected} (NaN without a reference)
     * @param meanMargin mean {@code r_chosen - r_rejected}
     * @param refFreeAccuracy share of pairs with {@code log pi(y_c|x) > log pi(y_r|x)}
     * @param meanLogpMargin mean {@code log pi(y_c|x) - log pi(y_r|x)}
     */
    public record Result(
            int pairs,
            double beta,
            Reference reference,
            double accuracy,
            double meanMargin,
            double meanChosenReward,
            double meanRejectedReward,
            double refFreeAccuracy,
            double meanLogpMargin,
            List<PairScore> perPair,
            DatasetStats stats) {}

    /** Reads TRL preference JSONL (explicit or implicit prompt, strings or conversations). */
    public static PreferenceDataset read(
            EvalModel policy, Path file, ChatTemplate template, PreferenceOptions options) {
        EvalJsonl.requireFile(file);
        return new PreferenceDatasetReader(policy.tokenizer(), template, options).read(file);
    }

    /**
     * Evaluates pairs.
     *
     * @param reference a separate reference model (its adapter, if any, is used), or null for the policy's
     *     base (adapter disabled) when the policy has an adapter, else no reference
     */
    public static Result evaluate(
            EvalModel policy, EvalModel reference, List<PreferenceExample> pairs, double beta, EvalOptions opts) {
        if (!(beta > 0) || Double.isInfinite(beta)) {
            throw PaftException.usage("beta must be positive, got " + beta);
        }
        if (reference != null
                && reference.model().config().vocabSize()
                        != policy.model().config().vocabSize()) {
            throw PaftException.usage("reference model vocabulary ("
                    + reference.model().config().vocabSize() + ") differs from the policy's ("
                    + policy.model().config().vocabSize() + ")");
        }
        // 1. rows: chosen pairs 0..k-1, rejected k..2k-1; labels on the completion only
        int k = pairs.size();
        List<TokenScorer.Row> rows = new ArrayList<>(2 * k);
        for (PreferenceExample p : pairs) {
            rows.add(row(p.promptIds(), p.chosenIds()));
        }
        for (PreferenceExample p : pairs) {
            rows.add(row(p.promptIds(), p.rejectedIds()));
        }
        int pad = policy.tokenizer().padId();
        int batch = Math.max(1, opts.batchSize());
        // 2. policy and reference log-probs
        List<TokenScorer.Score> pi = TokenScorer.score(policy.model(), policy.adapter(), rows, batch, pad);
        List<TokenScorer.Score> ref = null;
        Reference kind;
        if (reference != null) {
            kind = Reference.MODEL;
            ref = TokenScorer.score(reference.model(), reference.adapter(), rows, batch, pad);
        } else if (policy.adapter() != null) {
            kind = Reference.ADAPTER_DISABLED;
            LoraAdapter a = policy.adapter();
            boolean was = a.isEnabled();
            a.setEnabled(false);
            try {
                ref = TokenScorer.score(policy.model(), a, rows, batch, pad);
            } finally {
                a.setEnabled(was);
            }
        } else {
            kind = Reference.NONE;
        }
        // 3. rewards and accuracies
        List<PairScore> per = new ArrayList<>(k);
        double acc = 0, margin = 0, rc = 0, rr = 0, freeAcc = 0, lpMargin = 0;
        for (int i = 0; i < k; i++) {
            PairScore s = new PairScore(
                    pi.get(i).sum(),
                    pi.get(k + i).sum(),
                    ref == null ? Double.NaN : ref.get(i).sum(),
                    ref == null ? Double.NaN : ref.get(k + i).sum());
            per.add(s);
            double c = s.chosenReward(beta);
            double r = s.rejectedReward(beta);
            acc += c > r ? 1 : 0;
            margin += c - r;
            rc += c;
            rr += r;
            freeAcc += s.policyChosen() > s.policyRejected() ? 1 : 0;
            lpMargin += s.policyChosen() - s.policyRejected();
        }
        return new Result(
                k,
                beta,
                kind,
                ref == null ? Double.NaN : acc / k,
                margin / k,
                rc / k,
                rr / k,
                freeAcc / k,
                lpMargin / k,
                List.copyOf(per),
                null);
    }

    /** Reads a file and evaluates it, see {@link #evaluate(EvalModel, EvalModel, List, double, EvalOptions)}. */
    public static Result evaluate(
            EvalModel policy,
            EvalModel reference,
            Path file,
            ChatTemplate template,
            PreferenceOptions options,
            double beta,
            EvalOptions opts) {
        PreferenceDataset data = read(policy, file, template, options);
        Result r = TokenScorer.naming(file, () -> evaluate(policy, reference, data.examples(), beta, opts));
        return new Result(
                r.pairs(),
                r.beta(),
                r.reference(),
                r.accuracy(),
                r.meanMargin(),
                r.meanChosenReward(),
                r.meanRejectedReward(),
                r.refFreeAccuracy(),
                r.meanLogpMargin(),
                r.perPair(),
                data.stats());
    }

    private static TokenScorer.Row row(int[] prompt, int[] completion) {
        int[] ids = Arrays.copyOf(prompt, prompt.length + completion.length);
        System.arraycopy(completion, 0, ids, prompt.length, completion.length);
        int[] labels = ids.clone();
        Arrays.fill(labels, 0, prompt.length, SftExample.IGNORE);
        return new TokenScorer.Row(ids, labels);
    }
}
