package dev.paft.pipeline;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.PaftConfig;
import dev.paft.config.RunConfig;
import dev.paft.errors.PaftException;
import dev.paft.eval.EvalModel;
import dev.paft.eval.EvalSuite;
import dev.paft.eval.MultipleChoice;
import dev.paft.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The measurements of every candidate, shaped like the paper's Table 1: one row per model, one
 * column per metric. Results are cached per model as {@code eval/NAME.json}, so a rerun only
 * evaluates what is new.
 */
public final class Comparison {
    /** One row: metric name to value (NaN when not measured). */
    public record Row(Candidate candidate, Map<String, Double> metrics) {}

    private Comparison() {}

    /**
     * The suite measured on every candidate: the files of {@code run.eval}, its beta and batch size, and
     * everything else from the run's config exactly as {@code paft eval} takes it ({@link EvalSuite.Settings#of}).
     */
    public static EvalSuite suite(RunConfig.RunEval spec, PaftConfig root) {
        EvalSuite.Settings s = EvalSuite.Settings.of(root, spec.batchSize());
        s = new EvalSuite.Settings(
                s.options(),
                s.preference(),
                spec.beta(),
                s.chatTemplate(),
                s.skipBadRecords(),
                s.storage(),
                s.tokenizerDir());
        List<Path> mc = spec.multipleChoice() == null
                ? List.of()
                : spec.multipleChoice().stream().map(Path::of).toList();
        return new EvalSuite(
                null,
                spec.perplexity() == null ? null : Path.of(spec.perplexity()),
                spec.preferences() == null ? null : Path.of(spec.preferences()),
                mc,
                MultipleChoice.DEFAULT_DELIMITER,
                s);
    }

    /** Evaluates {@code candidates} with {@code suite} (reusing cached results in {@code evalDir}), the base as reward reference. */
    public static List<Row> evaluate(
            List<Candidate> candidates,
            Path baseModel,
            EvalSuite suite,
            Device device,
            Path evalDir,
            Consumer<String> log) {
        List<Row> rows = new ArrayList<>();
        try {
            Files.createDirectories(evalDir);
        } catch (IOException e) {
            throw PaftException.io("create", evalDir, e);
        }
        try (EvalModel reference = suite.preferences() == null ? null : suite.open(baseModel, null, device)) {
            for (Candidate c : candidates) {
                Path cache = evalDir.resolve(c.fileName() + ".json");
                Map<String, Double> m = readCache(cache);
                if (m == null) {
                    long t0 = System.nanoTime();
                    try (EvalModel model = suite.open(c.model(), c.adapter(), device)) {
                        m = EvalSuite.metrics(suite.run(model, reference));
                    }
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
                    log.accept(
                            String.format(Locale.ROOT, "eval %-28s %.1fs", c.name(), (System.nanoTime() - t0) / 1e9));
                }
                rows.add(new Row(c, m));
            }
        }
        return rows;
    }

    private static Map<String, Double> readCache(Path cache) {
        if (!Files.isRegularFile(cache)) {
            return null;
        }
        Map<String, Double> m = new LinkedHashMap<>();
        Json.readObject(cache)
                .path("metrics")
                .fields()
                .forEachRemaining(e ->
                        m.put(e.getKey(), e.getValue().isNumber() ? e.getValue().asDouble() : Double.NaN));
        return m;
    }

    /**
     * The comparison as a narrow fixed-width table: short column names (a legend below maps them to
     * the metric keys of comparison.json/.csv), 3 decimals (1 for perplexity), "preference"
     * shortened to "pref" in model names, rows grouped by kind. {@code extra} adds columns (e.g.
     * sparsity) by row name.
     */
    public static String table(List<Row> rows, Map<String, Map<String, String>> extra) {
        List<String> cols = columns(rows);
        List<String> extraCols = extraColumns(extra);
        List<String> heads = new ArrayList<>();
        List<String> all = new ArrayList<>(cols);
        all.addAll(extraCols);
        for (String c : all) {
            heads.add(shortName(c));
        }
        List<String> names = rows.stream()
                .map(r -> r.candidate().name().replace("preference", "pref"))
                .toList();
        int nameW = Math.max(5, names.stream().mapToInt(String::length).max().orElse(5));
        List<List<String>> cells = new ArrayList<>();
        for (Row r : rows) {
            List<String> line = new ArrayList<>();
            for (String c : cols) {
                Double v = r.metrics().get(c);
                line.add(
                        v == null || v.isNaN()
                                ? "-"
                                : String.format(Locale.ROOT, c.endsWith("ppl") ? "%.1f" : "%.3f", v));
            }
            Map<String, String> e = extra.getOrDefault(r.candidate().name(), Map.of());
            for (String c : extraCols) {
                line.add(e.getOrDefault(c, ""));
            }
            cells.add(line);
        }
        int[] w = new int[all.size()];
        for (int j = 0; j < w.length; j++) {
            w[j] = heads.get(j).length();
            for (List<String> line : cells) {
                w[j] = Math.max(w[j], line.get(j).length());
            }
        }
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-" + nameW + "s", "model"));
        for (int j = 0; j < w.length; j++) {
            sb.append(String.format(Locale.ROOT, "  %" + w[j] + "s", heads.get(j)));
        }
        sb.append('\n');
        String kind = null;
        for (int i = 0; i < rows.size(); i++) {
            String k = rows.get(i).candidate().kind();
            if (kind != null && !k.equals(kind)) {
                sb.append('\n');
            }
            kind = k;
            sb.append(String.format(Locale.ROOT, "%-" + nameW + "s", names.get(i)));
            for (int j = 0; j < w.length; j++) {
                sb.append(String.format(
                        Locale.ROOT, "  %" + w[j] + "s", cells.get(i).get(j)));
            }
            sb.append('\n');
        }
        int tableW = nameW;
        for (int x : w) {
            tableW += 2 + x;
        }
        StringBuilder legend = new StringBuilder();
        int col = 0;
        for (int j = 0; j < all.size(); j++) {
            if (!heads.get(j).equals(all.get(j))) {
                String item = (legend.length() == 0 ? "columns: " : ", ") + heads.get(j) + " = " + all.get(j);
                if (legend.length() > 0 && col + item.length() > Math.max(80, tableW)) {
                    legend.append(",\n ");
                    item = item.substring(1);
                    col = 1;
                }
                legend.append(item);
                col += item.length();
            }
        }
        if (legend.length() > 0) {
            sb.append('\n').append(legend).append(" (full keys and precision: comparison.csv)\n");
        }
        return sb.toString().lines().map(String::stripTrailing).collect(Collectors.joining("\n", "", "\n"));
    }

    /** The comparison as CSV: every metric under its full key, full precision, one row per model. */
    public static String csv(List<Row> rows, Map<String, Map<String, String>> extra) {
        List<String> cols = columns(rows);
        List<String> extraCols = extraColumns(extra);
        StringBuilder sb = new StringBuilder("model,kind");
        cols.forEach(c -> sb.append(',').append(csvCell(c)));
        extraCols.forEach(c -> sb.append(',').append(csvCell(c)));
        sb.append('\n');
        for (Row r : rows) {
            sb.append(csvCell(r.candidate().name()))
                    .append(',')
                    .append(r.candidate().kind());
            for (String c : cols) {
                Double v = r.metrics().get(c);
                sb.append(',').append(v == null || v.isNaN() ? "" : Double.toString(v));
            }
            Map<String, String> e = extra.getOrDefault(r.candidate().name(), Map.of());
            extraCols.forEach(c -> sb.append(',').append(csvCell(e.getOrDefault(c, ""))));
            sb.append('\n');
        }
        return sb.toString();
    }

    private static String csvCell(String s) {
        return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    private static List<String> columns(List<Row> rows) {
        List<String> cols = new ArrayList<>();
        for (Row r : rows) {
            for (String k : r.metrics().keySet()) {
                if (!cols.contains(k)) {
                    cols.add(k);
                }
            }
        }
        return cols;
    }

    private static List<String> extraColumns(Map<String, Map<String, String>> extra) {
        List<String> extraCols = new ArrayList<>();
        extra.values()
                .forEach(e -> e.keySet().forEach(k -> {
                    if (!extraCols.contains(k)) {
                        extraCols.add(k);
                    }
                }));
        return extraCols;
    }

    /** A column's short name: {@code task_mc/acc} is "task_mc", {@code task_mc/acc_norm} "task_mc_n", ... */
    static String shortName(String key) {
        return switch (key) {
            case "pref/reward_acc" -> "rew_acc";
            case "pref/margin" -> "margin";
            case "pref/logp_acc" -> "logp_acc";
            case "sft/ppl" -> "ppl";
            default ->
                key.startsWith("sparsity<")
                        ? "sparse"
                        : key.endsWith("/acc_norm")
                                ? key.substring(0, key.length() - 9) + "_n"
                                : key.endsWith("/acc") ? key.substring(0, key.length() - 4) : key;
        };
    }

    /** The comparison as JSON: a list of {name, kind, model, adapter, metrics}. */
    public static ArrayNode json(List<Row> rows, Map<String, Map<String, String>> extra) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (Row r : rows) {
            ObjectNode o = a.addObject();
            o.put("name", r.candidate().name());
            o.put("kind", r.candidate().kind());
            o.put("model", r.candidate().model().toString());
            o.put(
                    "adapter",
                    r.candidate().adapter() == null
                            ? null
                            : r.candidate().adapter().toString());
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
