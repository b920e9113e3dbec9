package dev.paft.cli;

import dev.paft.config.PaftConfig;
import dev.paft.data.ChatMessage;
import dev.paft.data.template.ChatTemplate;
import dev.paft.engine.Engines;
import dev.paft.errors.PaftException;
import dev.paft.eval.EvalModel;
import dev.paft.eval.Generator;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code paft chat}: an interactive conversation with a model (+ adapter), tokens printed as they are generated. */
@Command(
        name = "chat",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Chat with a model (plus an optional unmerged adapter) in the terminal: each message is added to",
            "the conversation, rendered with the chat template, and the reply is printed token by token.",
            "Commands: /clear starts over, /exit (or end of input) quits.",
            ""
        },
        footer = {
            "",
            "Examples:",
            "  paft chat --model runs/demo/models/SFT",
            "  paft chat --model runs/demo/assets/model --adapter runs/demo/preference --temperature 0.7 --top-p 0.9"
        })
public final class ChatCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message opening the conversation.")
    String system;

    @Option(
            names = "--chat-template",
            paramLabel = "T",
            description = "Chat template file or Jinja text; default: the tokenizer's.")
    @ConfigKey("data.chat_template")
    String chatTemplate;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "256", description = "Most tokens per reply.")
    int maxNewTokens;

    @Option(
            names = "--temperature",
            paramLabel = "T",
            defaultValue = "0",
            description = "0 = greedy; else softmax temperature.")
    double temperature;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1.0", description = "Nucleus sampling mass in (0, 1].")
    double topP;

    @Override
    public Integer call() throws IOException {
        Map<String, Object> flags = ConfigFlags.values(modelOptions, this);
        PaftConfig cfg = common.load(flags);
        ModelOptions.modelDir(cfg);
        Generator.Config gen = new Generator.Config(
                maxNewTokens, temperature, topP, cfg.training().seed());
        PrintStream out = System.out;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        var device = Engines.start(common.device, common.threads);
        try (EvalModel m = EvalModels.open(modelOptions, cfg, device)) {
            ChatTemplate template = m.chatTemplate(cfg.data().chatTemplate());
            if (template == null) {
                throw PaftException.badInput(
                        m.tokenizerDir() + ": no chat_template to chat with (give one with --chat-template)");
            }
            out.println("paft chat: " + ModelOptions.modelDir(cfg)
                    + (modelOptions.adapter != null ? " + " + modelOptions.adapter : "")
                    + ". Type a message; /clear starts over, /exit quits.");
            List<ChatMessage> conversation = new ArrayList<>();
            if (system != null) {
                conversation.add(new ChatMessage("system", system));
            }
            int turn = 0;
            while (true) {
                out.print("user> ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit") || line.strip().equals("/quit")) {
                    out.println();
                    return 0;
                }
                if (line.isBlank()) {
                    continue;
                }
                if (line.strip().equals("/clear")) {
                    conversation
                            .subList(system != null ? 1 : 0, conversation.size())
                            .clear();
                    out.println("(conversation cleared)");
                    continue;
                }
                conversation.add(new ChatMessage("user", line));
                int[] prompt = Generator.promptIds(m.tokenizer(), conversation, template);
                out.print("assistant> ");
                out.flush();
                List<Integer> ids = new ArrayList<>();
                StringBuilder shown = new StringBuilder();
                Generator.Config cfgTurn =
                        new Generator.Config(gen.maxNewTokens(), gen.temperature(), gen.topP(), gen.seed() + turn++);
                Generator.Generation g = Generator.stream(m, prompt, cfgTurn, t -> {
                    ids.add(t);
                    // decode everything so far and print what is new (a character may span tokens)
                    String text = m.tokenizer()
                            .decode(ids.stream().mapToInt(Integer::intValue).toArray(), true);
                    if (text.startsWith(shown.toString())
                            && text.length() > shown.length()
                            && !text.endsWith("\ufffd")) {
                        out.print(text.substring(shown.length()));
                        out.flush();
                        shown.setLength(0);
                        shown.append(text);
                    }
                });
                if (g.text().startsWith(shown.toString())) {
                    out.print(g.text().substring(shown.length()));
                }
                out.println(g.finish() == Generator.Finish.LENGTH ? " [max " + maxNewTokens + " tokens]" : "");
                conversation.add(new ChatMessage("assistant", g.text()));
            }
        }
    }
}
