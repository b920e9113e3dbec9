package dev.paft.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.io.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/** Renderings of a {@link SparsityReport}: a terminal table (one column per input), JSON and CSV. */
public final class ReportFormats {
    private ReportFormats() {}

    // ---------------------------------------------------------------- table

    /**
     * The terminal table: summary rows for every input side by side, then per-layer and
     * per-module-type fractions in {@code view} (the paper's is {@link View#UNSCALED}); with
     * {@code perModule} also one row per module.
     */
    public static String table(SparsityReport r, View view, boolean perModule) {
        List<InputReport> ins = r.inputs();
        List<Double> ts = r.thresholds();
        StringBuilder sb = new StringBuilder();
        sb.append("Sparsity: share of delta elements with |delta| < t. Unscaled delta = B @ A (the paper's Figure 2); "
                + "scaled = (alpha/r) B @ A; model inputs: delta = model - base.\n\n");

        // 1. summary: one column per input
        List<String[]> rows = new ArrayList<>();
        rows.add(row("", ins, InputReport::label));
        rows.add(row("input", ins, i -> i.kind().label()));
        rows.add(row(
                "r / alpha (scaling)",
                ins,
                i -> i.kind() == InputReport.Kind.ADAPTER
                        ? i.rank() + " / " + num(i.alpha()) + " (" + num(i.scaling()) + ")"
                        : "-"));
        rows.add(row(
                "modules / layers",
                ins,
                i -> i.modules().size() + " / " + i.layers().size()));
        rows.add(row(
                "elements",
                ins,
                i -> String.format(
                        Locale.ROOT, "%.4g", (double) i.total().unscaled().numel())));
        for (View v : View.values()) {
            for (int t = 0; t < ts.size(); t++) {
                int ti = t;
                rows.add(row(
                        "mean over layers, " + v.label() + " < " + num(ts.get(t)),
                        ins,
                        i -> pct(i.meanLayerFraction(v, ti))));
            }
        }
        for (View v : View.values()) {
            for (int t = 0; t < ts.size(); t++) {
                int ti = t;
                rows.add(row(
                        "all elements, " + v.label() + " < " + num(ts.get(t)),
                        ins,
                        i -> pct(i.total().stats(v).fraction(ti))));
            }
        }
        for (View v : View.values()) {
            rows.add(row("L1, " + v.label(), ins, i -> sci(i.total().stats(v).l1())));
            rows.add(row("L2, " + v.label(), ins, i -> sci(i.total().stats(v).l2())));
            rows.add(row(
                    "max |delta|, " + v.label(),
                    ins,
                    i -> sci(i.total().stats(v).maxAbs())));
        }
        sb.append(render(rows)).append('\n');

        // 2. per layer and per type: one column per input and threshold
        sb.append("Per layer (a layer pools the elements of its modules), ")
                .append(view.label())
                .append(":\n");
        sb.append(groupTable(r, view, "layer", i -> i.layers())).append('\n');
        sb.append("Per module type, all layers, ").append(view.label()).append(":\n");
        sb.append(groupTable(r, view, "type", i -> i.types()));
        if (perModule) {
            sb.append('\n').append("Per module, ").append(view.label()).append(":\n");
            sb.append(groupTable(r, view, "module", i -> i.modules()));
        }
        return sb.toString();
    }

    private static String groupTable(
            SparsityReport r, View view, String what, Function<InputReport, List<? extends GroupStats>> groups) {
        List<Double> ts = r.thresholds();
        List<String[]> rows = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of(what));
        for (InputReport in : r.inputs()) {
            for (double t : ts) {
                header.add(ts.size() == 1 ? in.label() : in.label() + " <" + num(t));
            }
        }
        rows.add(header.toArray(String[]::new));
        // rows keyed by group name, in first-seen order across inputs
        List<String> keys = new ArrayList<>();
        for (InputReport in : r.inputs()) {
            for (GroupStats g : groups.apply(in)) {
                if (!keys.contains(g.key())) {
                    keys.add(g.key());
                }
            }
        }
        for (String k : keys) {
            List<String> row = new ArrayList<>(List.of(k));
            for (InputReport in : r.inputs()) {
                GroupStats g = groups.apply(in).stream()
                        .filter(x -> x.key().equals(k))
                        .findFirst()
                        .orElse(null);
                for (int t = 0; t < ts.size(); t++) {
                    row.add(g == null ? "-" : pct(g.stats(view).fraction(t)));
                }
            }
            rows.add(row.toArray(String[]::new));
        }
        return render(rows);
    }

    private static String[] row(String name, List<InputReport> ins, Function<InputReport, String> cell) {
        String[] row = new String[ins.size() + 1];
        row[0] = name;
        for (int i = 0; i < ins.size(); i++) {
            row[i + 1] = cell.apply(ins.get(i));
        }
        return row;
    }

    /** Columns padded to their widest cell; the first left-aligned, the others right-aligned. */
    private static String render(List<String[]> rows) {
        int cols = rows.get(0).length;
        int[] w = new int[cols];
        for (String[] row : rows) {
            for (int c = 0; c < cols; c++) {
                w[c] = Math.max(w[c], row[c].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder(String.format("%-" + w[0] + "s", row[0]));
            for (int c = 1; c < cols; c++) {
                line.append("  ").append(String.format("%" + w[c] + "s", row[c]));
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
        return sb.toString();
    }

    static String pct(double f) {
        return Double.isNaN(f) ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * f);
    }

    static String sci(double x) {
        return String.format(Locale.ROOT, "%.4g", x);
    }

    /** A short number: 1e-05, 0.25, 16. */
    static String num(double x) {
        if (x == Math.rint(x) && Math.abs(x) < 1e6) {
            return Long.toString((long) x);
        }
        String s = String.format(Locale.ROOT, "%.4g", x);
        int e = s.indexOf('e');
        String mantissa = e < 0 ? s : s.substring(0, e);
        if (mantissa.contains(".")) {
            mantissa = mantissa.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return e < 0 ? mantissa : mantissa + s.substring(e);
    }

    // ---------------------------------------------------------------- JSON

    /** The whole report as JSON: per input a summary, layers, types and modules, each with both views. */
    public static ObjectNode json(SparsityReport r) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ArrayNode ts = root.putArray("thresholds");
        r.thresholds().forEach(ts::add);
        root.put(
                "definition",
                "fraction = share of elements with |delta| < threshold; unscaled delta = B @ A (paper, Figure 2),"
                        + " scaled = (alpha/r) B @ A; mean_over_layers = unweighted mean of per-layer fractions,"
                        + " a layer pooling the elements of its modules");
        ArrayNode arr = root.putArray("inputs");
        for (InputReport in : r.inputs()) {
            ObjectNode o = arr.addObject();
            o.put("label", in.label());
            o.put("path", in.dir().toString());
            o.put("kind", in.kind().label());
            if (in.kind() == InputReport.Kind.ADAPTER) {
                o.put("r", in.rank());
                o.put("lora_alpha", in.alpha());
                o.put("scaling", in.scaling());
            }
            ObjectNode mean = o.putObject("mean_over_layers");
            for (View v : View.values()) {
                ArrayNode a = mean.putArray(v.label());
                for (int t = 0; t < r.thresholds().size(); t++) {
                    putNumber(a, in.meanLayerFraction(v, t));
                }
            }
            o.set("all", group(in.total(), r.thresholds().size()));
            ArrayNode layers = o.putArray("layers");
            for (GroupStats g : in.layers()) {
                ObjectNode l = group(g, r.thresholds().size());
                layers.add(Json.MAPPER
                        .createObjectNode()
                        .put("layer", Integer.parseInt(g.key()))
                        .setAll(l));
            }
            ArrayNode types = o.putArray("types");
            for (GroupStats g : in.types()) {
                types.add(Json.MAPPER
                        .createObjectNode()
                        .put("type", g.key())
                        .setAll(group(g, r.thresholds().size())));
            }
            ArrayNode mods = o.putArray("modules");
            for (ModuleStats m : in.modules()) {
                ObjectNode mo = Json.MAPPER
                        .createObjectNode()
                        .put("name", m.name())
                        .put("layer", m.layer())
                        .put("type", m.type());
                mo.putArray("shape").add(m.rows()).add(m.cols());
                mods.add(mo.setAll(group(m, r.thresholds().size())));
            }
            if (in.histogram() != null) {
                ObjectNode h = o.putObject("histogram_unscaled");
                h.put("zeros", in.histogram()[0]);
                ArrayNode bins = h.putArray("bins");
                for (int b = 1; b < in.histogram().length; b++) {
                    if (in.histogram()[b] > 0) {
                        bins.addObject()
                                .put("lower", Histogram.lowerEdge(b))
                                .put("log10_centre", Histogram.log10Centre(b))
                                .put("count", in.histogram()[b]);
                    }
                }
            }
        }
        return root;
    }

    private static ObjectNode group(GroupStats g, int thresholds) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("numel", g.unscaled().numel());
        for (View v : View.values()) {
            DeltaStats s = g.stats(v);
            ObjectNode so = o.putObject(v.label());
            ArrayNode f = so.putArray("fraction_below");
            ArrayNode c = so.putArray("count_below");
            for (int t = 0; t < thresholds; t++) {
                putNumber(f, s.fraction(t));
                c.add(s.below()[t]);
            }
            so.put("l1", s.l1());
            so.put("l2", s.l2());
            so.put("max_abs", s.maxAbs());
        }
        return o;
    }

    private static void putNumber(ArrayNode a, double x) {
        if (Double.isNaN(x)) {
            a.addNull();
        } else {
            a.add(x);
        }
    }

    // ---------------------------------------------------------------- CSV

    /** Column names of {@link #csv}. */
    public static final String CSV_HEADER =
            "label,kind,scope,name,layer,type,view,threshold,fraction_below,count_below,numel,l1,l2,max_abs";

    /**
     * The report in long form, one row per input, group, view and threshold; scope is
     * {@code module}, {@code layer}, {@code type}, {@code all} or {@code mean_over_layers} (whose
     * row has only the fraction).
     */
    public static String csv(SparsityReport r) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        List<Double> ts = r.thresholds();
        for (InputReport in : r.inputs()) {
            for (View v : View.values()) {
                for (int t = 0; t < ts.size(); t++) {
                    double f = in.meanLayerFraction(v, t);
                    sb.append(String.join(
                                    ",",
                                    csvCell(in.label()),
                                    in.kind().label(),
                                    "mean_over_layers",
                                    "",
                                    "",
                                    "",
                                    v.label(),
                                    Double.toString(ts.get(t)),
                                    Double.isNaN(f) ? "" : Double.toString(f),
                                    "",
                                    "",
                                    "",
                                    "",
                                    ""))
                            .append('\n');
                }
            }
            csvRows(sb, in, "all", List.of(in.total()), ts);
            csvRows(sb, in, "layer", in.layers(), ts);
            csvRows(sb, in, "type", in.types(), ts);
            csvRows(sb, in, "module", in.modules(), ts);
        }
        return sb.toString();
    }

    private static void csvRows(
            StringBuilder sb, InputReport in, String scope, List<? extends GroupStats> groups, List<Double> ts) {
        for (GroupStats g : groups) {
            String layer =
                    scope.equals("layer") ? g.key() : g instanceof ModuleStats m ? Integer.toString(m.layer()) : "";
            String type = scope.equals("type") ? g.key() : g instanceof ModuleStats m ? m.type() : "";
            for (View v : View.values()) {
                DeltaStats s = g.stats(v);
                for (int t = 0; t < ts.size(); t++) {
                    sb.append(String.join(
                                    ",",
                                    csvCell(in.label()),
                                    in.kind().label(),
                                    scope,
                                    csvCell(g.key()),
                                    layer,
                                    type,
                                    v.label(),
                                    Double.toString(ts.get(t)),
                                    Double.toString(s.fraction(t)),
                                    Long.toString(s.below()[t]),
                                    Long.toString(s.numel()),
                                    Double.toString(s.l1()),
                                    Double.toString(s.l2()),
                                    Double.toString(s.maxAbs())))
                            .append('\n');
                }
            }
        }
    }

    private static String csvCell(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
