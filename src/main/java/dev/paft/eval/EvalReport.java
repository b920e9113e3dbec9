package dev.paft.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The results of one {@code paft eval} run, any of them null when not asked for, as a table or JSON
 * (NaN becomes JSON null).
 */
public record EvalReport(
        String model,
        String adapter,
        LogLikelihood.Result loglik,
        Perplexity.Result perplexity,
        PreferenceAccuracy.Result preference,
        List<MultipleChoice.Result> multipleChoice) {
    public EvalReport {
        multipleChoice = multipleChoice == null ? List.of() : List.copyOf(multipleChoice);
    }

    /** The same results under another model and adapter name. */
    public EvalReport withNames(String model, String adapter) {
        return new EvalReport(model, adapter, loglik, perplexity, preference, multipleChoice);
    }

    /** One row per metric: task, metric, value. */
    public String table() {
        List<String[]> rows = new ArrayList<>();
        if (loglik != null) {
            rows.add(row("loglik", "records", loglik.records().size()));
            rows.add(row("loglik", "tokens", loglik.tokens()));
            rows.add(row("loglik", "mean_nll", loglik.meanNll()));
            rows.add(row("loglik", "perplexity", loglik.perplexity()));
        }
        if (perplexity != null) {
            rows.add(row("perplexity", "examples", perplexity.examples()));
            rows.add(row("perplexity", "tokens", perplexity.tokens()));
            rows.add(row("perplexity", "mean_nll", perplexity.meanNll()));
            rows.add(row("perplexity", "perplexity", perplexity.perplexity()));
        }
        if (preference != null) {
            PreferenceAccuracy.Result p = preference;
            rows.add(row("preference", "pairs", p.pairs()));
            rows.add(new String[] {
                "preference", "reference", p.reference().name().toLowerCase(Locale.ROOT)
            });
            rows.add(row("preference", "beta", p.beta()));
            rows.add(row("preference", "reward_accuracy", p.accuracy()));
            rows.add(row("preference", "reward_margin", p.meanMargin()));
            rows.add(row("preference", "chosen_reward", p.meanChosenReward()));
            rows.add(row("preference", "rejected_reward", p.meanRejectedReward()));
            rows.add(row("preference", "logp_accuracy", p.refFreeAccuracy()));
            rows.add(row("preference", "logp_margin", p.meanLogpMargin()));
        }
        for (MultipleChoice.Result r : multipleChoice) {
            rows.add(row(r.task(), "questions", r.questions()));
            rows.add(new String[] {r.task(), "acc", fmt(r.acc()) + " ± " + fmt(r.accStderr())});
            rows.add(new String[] {r.task(), "acc_norm", fmt(r.accNorm()) + " ± " + fmt(r.accNormStderr())});
        }
        int[] w = {4, 6, 5};
        for (String[] r : rows) {
            for (int i = 0; i < 3; i++) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        String f = "%-" + w[0] + "s  %-" + w[1] + "s  %" + w[2] + "s%n";
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "model: %s%s%n", model, adapter == null ? "" : "  adapter: " + adapter));
        sb.append(String.format(Locale.ROOT, f, "task", "metric", "value"));
        for (String[] r : rows) {
            sb.append(String.format(Locale.ROOT, f, (Object[]) r));
        }
        return sb.toString();
    }

    /** The results as a JSON object. */
    public ObjectNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode o = f.objectNode();
        o.put("model", model);
        o.put("adapter", adapter);
        if (loglik != null) {
            ObjectNode l = o.putObject("loglik");
            l.put("records", loglik.records().size());
            l.put("tokens", loglik.tokens());
            num(l, "mean_nll", loglik.meanNll());
            num(l, "perplexity", loglik.perplexity());
        }
        if (perplexity != null) {
            ObjectNode l = o.putObject("perplexity");
            l.put("examples", perplexity.examples());
            l.put("tokens", perplexity.tokens());
            num(l, "mean_nll", perplexity.meanNll());
            num(l, "perplexity", perplexity.perplexity());
        }
        if (preference != null) {
            PreferenceAccuracy.Result p = preference;
            ObjectNode l = o.putObject("preference");
            l.put("pairs", p.pairs());
            l.put("reference", p.reference().name().toLowerCase(Locale.ROOT));
            num(l, "beta", p.beta());
            num(l, "reward_accuracy", p.accuracy());
            num(l, "reward_margin", p.meanMargin());
            num(l, "chosen_reward", p.meanChosenReward());
            num(l, "rejected_reward", p.meanRejectedReward());
            num(l, "logp_accuracy", p.refFreeAccuracy());
            num(l, "logp_margin", p.meanLogpMargin());
        }
        if (!multipleChoice.isEmpty()) {
            ObjectNode mc = o.putObject("multiple_choice");
            for (MultipleChoice.Result r : multipleChoice) {
                ObjectNode t = mc.putObject(r.task());
                t.put("questions", r.questions());
                num(t, "acc", r.acc());
                num(t, "acc_stderr", r.accStderr());
                num(t, "acc_norm", r.accNorm());
                num(t, "acc_norm_stderr", r.accNormStderr());
            }
        }
        return o;
    }

    private static void num(ObjectNode o, String k, double v) {
        if (Double.isFinite(v)) {
            o.put(k, v);
        } else {
            o.putNull(k);
        }
    }

    private static String[] row(String task, String metric, double v) {
        return new String[] {task, metric, fmt(v)};
    }

    private static String[] row(String task, String metric, long v) {
        return new String[] {task, metric, Long.toString(v)};
    }

    static String fmt(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        return Math.abs(v) >= 1e5 || v != 0 && Math.abs(v) < 1e-3
                ? String.format(Locale.ROOT, "%.4e", v)
                : String.format(Locale.ROOT, "%.4f", v);
    }
}
