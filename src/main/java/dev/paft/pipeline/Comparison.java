package dev.paft.pipeline;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.RunConfig;
import dev.paft.data.PreferenceOptions;
import dev.paft.eval.EvalModel;
import dev.paft.eval.EvalOptions;
import dev.paft.eval.MultipleChoice;
import dev.paft.eval.Perplexity;
import dev.paft.eval.PreferenceAccuracy;
import dev.paft.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The measurements of every candidate, shaped like the paper's Table 1: one row per model, one
 * column per metric. Results are cached per model as {@code eval/NAME.json}, so a rerun only
 * evaluates what is new.
 */
public final class Comparison {
    /** One row: metric name to value (NaN when not measured). */
    public record Row(Candidate candidate, Map<String, Double> metrics) {}

    private Comparison() {}

    /** Evaluates {@code candidates} (reusing cached results in {@code evalDir}) with the base as reward reference. */
    public static List<Row> evaluate(List<Candidate> candidates, Path baseModel, RunConfig.RunEval spec, int maxLength,
                                     int maxPromptLength, Device device, Path evalDir, java.util.function.Consumer<String> log) {
        List<Row> rows = new ArrayList<>();
        EvalOptions opts = new EvalOptions(32, maxLength);
        try {
            Files.createDirectories(evalDir);
        } catch (java.io.IOException e) {
            throw new dev.paft.errors.PaftException(dev.paft.errors.PaftException.INTERNAL, "cannot create " + evalDir, e);
        }
        try (EvalModel reference = spec.preferences() == null ? null : EvalModel.open(baseModel, null, null, device, false)) {
            for (Candidate c : candidates) {
                Path cache = evalDir.resolve(c.fileName() + ".json");
                Map<String, Double> m = readCache(cache);
                if (m == null) {
                    long t0 = System.nanoTime();
                    m = measure(c, reference, spec, opts, maxLength, maxPromptLength, device);
                    ObjectNode json = Json.MAPPER.createObjectNode();
                    json.put("name", c.name());
                    json.put("kind", c.kind());
                    json.put("model", c.model().toString());
                    json.put("adapter", c.adapter() == null ? null : c.adapter().toString());
                    ObjectNode mj = json.putObject("metrics");
                    m.forEach((k, v) -> {
                        if (Double.isFinite(v)) {
                            mj.put(k, v);
                        } else {
                            mj.putNull(k);
                        }
                    });
                    Json.write(cache, json);
                    log.accept(String.format(Locale.ROOT, "eval %-28s %.1fs", c.name(), (System.nanoTime() - t0) / 1e9));
                }
                rows.add(new Row(c, m));
            }
        }
        return rows;
    }

    private static Map<String, Double> measure(Candidate c, EvalModel reference, RunConfig.RunEval spec, EvalOptions opts,
                                               int maxLength, int maxPromptLength, Device device) {
        Map<String, Double> m = new LinkedHashMap<>();
        try (EvalModel model = EvalModel.open(c.model(), c.adapter(), null, device, false)) {
            if (spec.multipleChoice() != null) {
                for (String f : spec.multipleChoice()) {
                    MultipleChoice.Result r = MultipleChoice.evaluate(model, Path.of(f), MultipleChoice.DEFAULT_DELIMITER, opts);
                    String task = taskName(f);
                    m.put(task + "/acc", r.acc());
                    m.put(task + "/acc_norm", r.accNorm());
                }
            }
            if (spec.preferences() != null) {
                PreferenceAccuracy.Result r = PreferenceAccuracy.evaluate(model, reference, Path.of(spec.preferences()),
                        model.chatTemplate(null), new PreferenceOptions(maxLength, maxPromptLength, false), spec.beta(), opts);
                m.put("pref/reward_acc", r.accuracy());
                m.put("pref/margin", r.meanMargin());
                m.put("pref/logp_acc", r.refFreeAccuracy());
            }
            if (spec.perplexity() != null) {
                Perplexity.Result r = Perplexity.evaluate(model, Path.of(spec.perplexity()), model.chatTemplate(null), false, opts);
                m.put("sft/ppl", r.perplexity());
            }
        }
        return m;
    }

    static String taskName(String file) {
        String n = Path.of(file).getFileName().toString();
        return n.endsWith(".jsonl") ? n.substring(0, n.length() - 6) : n;
    }

    private static Map<String, Double> readCache(Path cache) {
        if (!Files.isRegularFile(cache)) {
            return null;
        }
        Map<String, Double> m = new LinkedHashMap<>();
        Json.readObject(cache).path("metrics").fields()
                .forEachRemaining(e -> m.put(e.getKey(), e.getValue().isNumber() ? e.getValue().asDouble() : Double.NaN));
        return m;
    }

    /** The comparison as a fixed-width table; {@code extra} adds columns (e.g. sparsity) by row name. */
    public static String table(List<Row> rows, Map<String, Map<String, String>> extra) {
        List<String> cols = new ArrayList<>();
        for (Row r : rows) {
            for (String k : r.metrics().keySet()) {
                if (!cols.contains(k)) {
                    cols.add(k);
                }
            }
        }
        List<String> extraCols = new ArrayList<>();
        extra.values().forEach(e -> e.keySet().forEach(k -> {
            if (!extraCols.contains(k)) {
                extraCols.add(k);
            }
        }));
        int nameW = Math.max(10, rows.stream().mapToInt(r -> r.candidate().name().length()).max().orElse(10));
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-" + nameW + "s  %-10s", "model", "kind"));
        for (String c : cols) {
            sb.append(String.format(Locale.ROOT, "  %14s", c));
        }
        for (String c : extraCols) {
            sb.append(String.format(Locale.ROOT, "  %16s", c));
        }
        sb.append('\n');
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-" + nameW + "s  %-10s", r.candidate().name(), r.candidate().kind()));
            for (String c : cols) {
                Double v = r.metrics().get(c);
                sb.append(String.format(Locale.ROOT, "  %14s", v == null || v.isNaN() ? "-" : String.format(Locale.ROOT, "%.4f", v)));
            }
            Map<String, String> e = extra.getOrDefault(r.candidate().name(), Map.of());
            for (String c : extraCols) {
                sb.append(String.format(Locale.ROOT, "  %16s", e.getOrDefault(c, "")));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** The comparison as JSON: a list of {name, kind, model, adapter, metrics}. */
    public static ArrayNode json(List<Row> rows, Map<String, Map<String, String>> extra) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (Row r : rows) {
            ObjectNode o = a.addObject();
            o.put("name", r.candidate().name());
            o.put("kind", r.candidate().kind());
            o.put("model", r.candidate().model().toString());
            o.put("adapter", r.candidate().adapter() == null ? null : r.candidate().adapter().toString());
            ObjectNode m = o.putObject("metrics");
            r.metrics().forEach((k, v) -> {
                if (Double.isFinite(v)) {
                    m.put(k, v);
                } else {
                    m.putNull(k);
                }
            });
            extra.getOrDefault(r.candidate().name(), Map.of()).forEach(o::put);
        }
        return a;
    }
}
