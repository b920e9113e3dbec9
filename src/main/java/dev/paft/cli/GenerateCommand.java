package dev.paft.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.config.PaftConfig;
import dev.paft.data.template.ChatTemplate;
import dev.paft.engine.Engines;
import dev.paft.errors.PaftException;
import dev.paft.eval.EvalModel;
import dev.paft.eval.Generator;
import dev.paft.eval.PromptFile;
import dev.paft.io.Mappers;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code paft generate}: text from a model (plus an optional unmerged adapter), KV cache, greedy or sampled. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Generate text from a model (KV cache; greedy or sampling).",
            "",
            "Examples:",
            "  paft generate --model runs/merged --chat --prompt \"What is PAFT?\"",
            "  paft generate --model base --adapter runs/sft --prompts prompts.jsonl --temperature 0.7 --top-p 0.9 --seed 1"
        })
public final class GenerateCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = Mappers.json();

    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "A prompt (repeatable).")
    List<String> prompts = new ArrayList<>();

    @Option(
            names = "--prompts",
            paramLabel = "FILE",
            description =
                    "JSONL of {\"prompt\": text} or {\"messages\": [...]} (conversations always use the chat template).")
    Path promptFile;

    @Option(
            names = "--chat",
            description = "Wrap each text prompt as a user turn in the chat template, with the generation prompt.")
    boolean chat;

    @Option(
            names = "--chat-template",
            paramLabel = "T",
            description = "Chat template file or Jinja text; default: the tokenizer's.")
    @ConfigKey("data.chat_template")
    String chatTemplate;

    @Option(
            names = "--max-new-tokens",
            paramLabel = "N",
            defaultValue = "64",
            description = "Most tokens generated per prompt (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(
            names = "--temperature",
            paramLabel = "T",
            defaultValue = "0",
            description = "0 = greedy; else softmax temperature (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(
            names = "--top-p",
            paramLabel = "P",
            defaultValue = "1.0",
            description = "Nucleus sampling mass in (0, 1] (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(
            names = "--batch-size",
            paramLabel = "N",
            defaultValue = "8",
            description = "Prompts generated together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(
            names = "--format",
            paramLabel = "FMT",
            defaultValue = "table",
            description = "table (readable) or json (one JSON line per prompt) (default: ${DEFAULT-VALUE}).")
    OutputFormat format;

    @Override
    public Integer call() {
        // 1. flags, config and prompts before the model load
        if (format == OutputFormat.CSV) {
            throw PaftException.usage("--format csv is not supported by generate; use table or json");
        }
        if (prompts.isEmpty() && promptFile == null) {
            throw PaftException.usage("no prompt: give --prompt TEXT (repeatable) or --prompts FILE.jsonl");
        }
        Generator.Config gen = new Generator.Config(maxNewTokens, temperature, topP, 0);
        Map<String, Object> flags = ConfigFlags.values(modelOptions, this);
        PaftConfig cfg = common.load(flags);
        ModelOptions.modelDir(cfg);
        gen = new Generator.Config(
                gen.maxNewTokens(),
                gen.temperature(),
                gen.topP(),
                cfg.training().seed());
        List<PromptFile.Prompt> all = new ArrayList<>();
        for (String p : prompts) {
            all.add(new PromptFile.Prompt(p, null));
        }
        if (promptFile != null) {
            all.addAll(PromptFile.read(promptFile));
        }

        // 2. load, encode, generate
        var device = Engines.start(common.device, common.threads);
        List<Generator.Generation> out;
        try (EvalModel m = EvalModels.open(modelOptions, cfg, device)) {
            boolean needTemplate = chat || all.stream().anyMatch(p -> p.messages() != null);
            ChatTemplate template = needTemplate ? m.chatTemplate(cfg.data().chatTemplate()) : null;
            if (needTemplate && template == null) {
                throw PaftException.badInput(
                        m.tokenizerDir() + ": no chat_template for --chat or conversational prompts "
                                + "(give one with --chat-template)");
            }
            List<int[]> ids = new ArrayList<>();
            for (PromptFile.Prompt p : all) {
                ids.add(
                        p.messages() != null
                                ? Generator.promptIds(m.tokenizer(), p.messages(), template)
                                : Generator.promptIds(m.tokenizer(), p.text(), chat ? template : null));
            }
            out = Generator.generate(m, ids, gen, batchSize);
        }

        // 3. print
        PrintWriter w = spec.commandLine().getOut();
        for (int i = 0; i < out.size(); i++) {
            Generator.Generation g = out.get(i);
            PromptFile.Prompt p = all.get(i);
            String shown = p.text() != null
                    ? p.text()
                    : p.messages().get(p.messages().size() - 1).content();
            String finish = g.finish().name().toLowerCase(Locale.ROOT);
            if (format == OutputFormat.JSON) {
                ObjectNode o = JSON.createObjectNode();
                o.put("prompt", shown);
                o.put("completion", g.text());
                o.put("tokens", g.tokens().length);
                o.put("finish_reason", finish);
                w.println(o);
            } else {
                w.printf(
                        Locale.ROOT,
                        "=== prompt %d%n%s%n--- completion (%d tokens, %s)%n%s%n",
                        i + 1,
                        shown,
                        g.tokens().length,
                        finish,
                        g.text());
            }
        }
        w.flush();
        return 0;
    }
}
