package dev.paft.eval;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Multiple-choice accuracy in lm-eval-harness style: each choice is scored as a continuation of the
 * context, {@code ll_i = log p(delimiter + choice_i | context)} ({@link LogLikelihood}), and
 * <ul>
 *   <li>{@code acc = mean[argmax_i ll_i == gold]};
 *   <li>{@code acc_norm = mean[argmax_i ll_i / len(choice_i) == gold]}, {@code len} in characters
 *       (Unicode code points, Python's {@code len}) of the choice without the delimiter, as lm-eval does;
 * </ul>
 * ties go to the first choice ({@code np.argmax}); standard errors are lm-eval's
 * {@code stddev(ddof=1) / sqrt(n)}.
 *
 * <p>Records: {@code {"context": str, "choices": [str, ...], "gold": int}} ({@code "label"} is accepted for
 * {@code "gold"}, as an integer or a digit string). The delimiter (lm-eval's {@code target_delimiter},
 * default one space) is put between context and choice unless the context already ends with whitespace
 * or the choice starts with it.
 */
public final class MultipleChoice {
    /** lm-eval's default {@code target_delimiter}. */
    public static final String DEFAULT_DELIMITER = " ";

    private MultipleChoice() {}

    /** One question: the context, its choices and the index of the right one. */
    public record Question(String context, List<String> choices, int gold) {
        public Question {
            choices = List.copyOf(choices);
            if (choices.isEmpty() || gold < 0 || gold >= choices.size()) {
                throw new IllegalArgumentException("gold " + gold + " out of range for " + choices.size() + " choices");
            }
        }
    }

    /** Log-likelihood of each choice and the picks of {@code acc} and {@code acc_norm}. */
    public record QuestionScore(double[] logLikelihoods, int gold, int pred, int predNorm) {}

    /** Accuracies over a task, with standard errors. */
    public record Result(
            String task,
            int questions,
            double acc,
            double accStderr,
            double accNorm,
            double accNormStderr,
            List<QuestionScore> perQuestion) {}

    /** Reads a JSONL task; a bad record is bad input naming {@code file:line}. */
    public static List<Question> read(Path file) {
        return EvalJsonl.read(file, MultipleChoice::parse);
    }

    static Question parse(JsonNode r) {
        String context = EvalJsonl.string(r, "context");
        JsonNode cs = r.get("choices");
        if (cs == null || !cs.isArray() || cs.size() < 2) {
            throw new EvalJsonl.BadRecord("'choices' must be an array of at least 2 strings");
        }
        List<String> choices = new ArrayList<>();
        for (int i = 0; i < cs.size(); i++) {
            if (!cs.get(i).isTextual()) {
                throw new EvalJsonl.BadRecord("'choices'[" + i + "] must be a string, found "
                        + cs.get(i).getNodeType());
            }
            choices.add(cs.get(i).asText());
        }
        String field = r.has("gold") ? "gold" : "label";
        JsonNode g = r.get(field);
        int gold;
        if (g != null && g.isIntegralNumber() && g.canConvertToInt()) {
            gold = g.asInt();
        } else if (g != null && g.isTextual() && g.asText().strip().matches("\\d{1,9}")) {
            gold = Integer.parseInt(g.asText().strip());
        } else {
            throw new EvalJsonl.BadRecord(
                    g == null
                            ? "missing field 'gold' (or 'label')"
                            : "'" + field + "' must be the index of the right choice, found " + g);
        }
        if (gold >= choices.size()) {
            throw new EvalJsonl.BadRecord(
                    "'" + field + "' = " + gold + " but there are only " + choices.size() + " choices");
        }
        return new Question(context, choices, gold);
    }

    /** Scores every choice of every question and computes {@code acc} and {@code acc_norm}. */
    public static Result evaluate(
            EvalModel m, String task, List<Question> questions, String delimiter, EvalOptions opts) {
        // 1. one loglikelihood request per (question, choice)
        List<LogLikelihood.Request> requests = new ArrayList<>();
        for (Question q : questions) {
            for (String c : q.choices()) {
                requests.add(LogLikelihood.encode(m.tokenizer(), q.context(), join(q.context(), c, delimiter)));
            }
        }
        List<TokenScorer.Score> scores = LogLikelihood.score(m, requests, opts);
        // 2. picks per question
        List<QuestionScore> per = new ArrayList<>(questions.size());
        double[] acc = new double[questions.size()];
        double[] accNorm = new double[questions.size()];
        int next = 0;
        for (int i = 0; i < questions.size(); i++) {
            Question q = questions.get(i);
            double[] ll = new double[q.choices().size()];
            double[] len = new double[ll.length];
            for (int j = 0; j < ll.length; j++) {
                ll[j] = scores.get(next++).sum();
                len[j] = charLength(q.choices().get(j));
            }
            int pred = argmax(ll);
            int predNorm = argmaxNormalized(ll, len);
            per.add(new QuestionScore(ll, q.gold(), pred, predNorm));
            acc[i] = pred == q.gold() ? 1 : 0;
            accNorm[i] = predNorm == q.gold() ? 1 : 0;
        }
        return new Result(
                task,
                questions.size(),
                mean(acc),
                meanStderr(acc),
                mean(accNorm),
                meanStderr(accNorm),
                List.copyOf(per));
    }

    /** Reads and evaluates a task file; the task is named after the file (without {@code .jsonl}). */
    public static Result evaluate(EvalModel m, Path file, String delimiter, EvalOptions opts) {
        String name = file.getFileName().toString().replaceFirst("\\.jsonl?$", "");
        List<Question> questions = read(file);
        return TokenScorer.naming(file, () -> evaluate(m, name, questions, delimiter, opts));
    }

    /** The continuation text: {@code delimiter + choice}, unless whitespace already separates them. */
    static String join(String context, String choice, String delimiter) {
        boolean spaced = context.isEmpty()
                || Character.isWhitespace(context.charAt(context.length() - 1))
                || !choice.isEmpty() && Character.isWhitespace(choice.charAt(0));
        return spaced ? choice : delimiter + choice;
    }

    /** Python's {@code len(s)}: Unicode code points. */
    public static int charLength(String s) {
        return s.codePointCount(0, s.length());
    }

    /** Index of the largest value, the first on ties ({@code np.argmax}). */
    public static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /** {@code argmax_i ll_i / len_i}; a zero length counts as 1. */
    public static int argmaxNormalized(double[] ll, double[] lengths) {
        double[] n = new double[ll.length];
        for (int i = 0; i < n.length; i++) {
            n[i] = ll[i] / Math.max(1, lengths[i]);
        }
        return argmax(n);
    }

    static double mean(double[] xs) {
        double s = 0;
        for (double x : xs) {
            s += x;
        }
        return xs.length == 0 ? Double.NaN : s / xs.length;
    }

    /** lm-eval's {@code mean_stderr}: sample standard deviation (ddof 1) over {@code sqrt(n)}; NaN for n < 2. */
    public static double meanStderr(double[] xs) {
        int n = xs.length;
        if (n < 2) {
            return Double.NaN;
        }
        double mu = mean(xs);
        double ss = 0;
        for (double x : xs) {
            ss += (x - mu) * (x - mu);
        }
        return Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
    }
}
