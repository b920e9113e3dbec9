package dev.paft.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.config.ConfigLoader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Help text that reads well: descriptions wrapped at spaces only (picocli's wrapper also breaks
 * after dots, splitting {@code training.learning_rate}), the width of the terminal (at least 80),
 * each option's config key ({@link ConfigKey}) and default shown (a flag's own default, or the default of
 * the config key it sets),
 * and one-sentence command summaries.
 */
final class HelpLayout {
    /** One sentence per command for {@code paft --help}'s list (picocli would cut the first description line). */
    static final Map<String, String> SUMMARIES = new LinkedHashMap<>();

    static {
        SUMMARIES.put("demo", "PAFT end to end on the bundled tiny model (CPU, minutes).");
        SUMMARIES.put("run", "The whole PAFT paradigm from one config.");
        SUMMARIES.put("train-sft", "LoRA SFT with the L1 sparsity penalty (PAFT eq. 1).");
        SUMMARIES.put("train-dpo", "LoRA preference training: DPO, IPO, hinge, ORPO.");
        SUMMARIES.put("merge", "Merge adapters or models (linear, TIES, DARE, SLERP, ...).");
        SUMMARIES.put("sparsity-report", "Per-layer sparsity of adapters or deltas (Figure 2).");
        SUMMARIES.put("eval", "Perplexity, preference accuracy, multiple choice.");
        SUMMARIES.put("generate", "Generate text from a model (greedy or sampling).");
        SUMMARIES.put("chat", "Chat with a model (+ adapter), tokens streamed.");
        SUMMARIES.put("help", "Show the help of a command.");
    }

    private static final int NAMES = 30;

    private HelpLayout() {}

    /** Installs the layout on {@code cl} and every subcommand. */
    static void apply(CommandLine cl) {
        cl.setUsageHelpAutoWidth(true);
        cl.setUsageHelpWidth(Math.max(80, cl.getUsageHelpWidth()));
        cl.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_OPTION_LIST, HelpLayout::options);
        cl.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_DESCRIPTION, HelpLayout::description);
        cl.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST, HelpLayout::commands);
        cl.getSubcommands().values().forEach(HelpLayout::apply);
    }

    private static int width(CommandLine.Help help) {
        return Math.max(80, help.commandSpec().usageMessage().width());
    }

    private static String description(CommandLine.Help help) {
        StringBuilder sb = new StringBuilder();
        for (String line : help.commandSpec().usageMessage().description()) {
            sb.append(wrap(line, width(help), 0, 0));
        }
        return sb.toString();
    }

    private static String commands(CommandLine.Help help) {
        Map<String, CommandLine> subs = help.commandSpec().subcommands();
        if (subs.isEmpty()) {
            return "";
        }
        int w = subs.keySet().stream().mapToInt(String::length).max().orElse(10) + 4;
        StringBuilder sb = new StringBuilder();
        subs.forEach((name, cl) -> {
            String[] d = cl.getCommandSpec().usageMessage().description();
            String summary = SUMMARIES.getOrDefault(name, d.length > 0 ? d[0] : "");
            String first = String.format("  %-" + (w - 2) + "s", name);
            sb.append(first).append(wrap(summary, width(help), w, w).substring(w));
        });
        return sb.toString();
    }

    private static String options(CommandLine.Help help) {
        int width = width(help);
        StringBuilder sb = new StringBuilder();
        JsonNode defaults = null;
        for (OptionSpec o : help.commandSpec().options()) {
            if (o.hidden()) {
                continue;
            }
            String names = names(o);
            String text =
                    String.join(" ", o.description()).replace("${DEFAULT-VALUE}", String.valueOf(o.defaultValue()));
            String key = ConfigFlags.keyOf(o);
            String shown = null;
            if (!text.contains("default:")) {
                if (o.defaultValue() != null
                        && !o.defaultValue().isEmpty()
                        && o.arity().max() > 0) {
                    shown = o.defaultValue();
                } else if (key != null) {
                    if (defaults == null) {
                        defaults = ConfigLoader.defaults();
                    }
                    String[] k = key.split("\\.");
                    JsonNode v = defaults.path(k[0]).path(k[1]);
                    if (!v.isMissingNode()
                            && !v.isNull()
                            && !(v.isTextual() && v.asText().isEmpty())) {
                        if (v.isArray()) {
                            List<String> items = new ArrayList<>();
                            v.forEach(x -> items.add(x.asText()));
                            shown = "[" + String.join(", ", items) + "]";
                        } else {
                            shown = v.isObject()
                                    ? v.toString()
                                    : v.isNumber() ? v.asText().replace("E", "e") : v.asText();
                        }
                    }
                }
            }
            // the key the flag sets (declared once, by @ConfigKey) and the default, after the description
            String note = key != null
                    ? key + (shown != null ? ", default: " + shown : "")
                    : shown != null ? "default: " + shown : null;
            if (note != null) {
                text = text.endsWith(".")
                        ? text.substring(0, text.length() - 1) + " (" + note + ")."
                        : text + " (" + note + ")";
            }
            String head = "  " + names;
            if (head.length() + 1 < NAMES) {
                sb.append(head)
                        .append(" ".repeat(NAMES - head.length()))
                        .append(wrap(text, width, NAMES, NAMES + 2).substring(NAMES));
            } else {
                sb.append(head).append('\n').append(wrap(text, width, NAMES, NAMES + 2));
            }
        }
        return sb.toString();
    }

    private static String names(OptionSpec o) {
        List<String> shortNames = new ArrayList<>();
        List<String> longNames = new ArrayList<>();
        for (String n : o.names()) {
            if (n.contains("_")) {
                continue; // TRL/transformers snake_case aliases: accepted, not listed (the footer says so)
            }
            (n.length() == 2 ? shortNames : longNames).add(n);
        }
        String label = o.arity().max() > 0 ? "=" + o.paramLabel() : "";
        if (o.negatable() && !longNames.isEmpty()) {
            longNames.set(0, "--[no-]" + longNames.get(0).substring(2));
        }
        String s = (shortNames.isEmpty() ? "    " : shortNames.get(0) + ", ") + String.join(", ", longNames);
        return s + (o.arity().min() == 0 && o.arity().max() > 0 ? "[" + label + "]" : label);
    }

    /** {@code text} wrapped at spaces to {@code width}: the first line indented {@code first}, the rest {@code rest}. */
    static String wrap(String text, int width, int first, int rest) {
        StringBuilder sb = new StringBuilder(" ".repeat(first));
        int col = first;
        boolean lineStart = true;
        for (String word : text.split(" ")) {
            if (!lineStart && col + 1 + word.length() > width - 1) {
                sb.append('\n').append(" ".repeat(rest));
                col = rest;
                lineStart = true;
            }
            if (!lineStart) {
                sb.append(' ');
                col++;
            }
            sb.append(word);
            col += word.length();
            lineStart = false;
        }
        return sb.append('\n').toString();
    }
}
