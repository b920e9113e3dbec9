package dev.paft.data.template;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.paft.data.ChatMessage;
import dev.paft.data.TokenizerConfig;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;

/**
 * A Hugging Face chat template: the Jinja string from {@code tokenizer_config.json} that turns
 * a list of messages into the model's prompt text, rendered with Jinjava.
 *
 * <p>Rendering matches transformers' {@code apply_chat_template} byte for byte (checked against
 * Jinja2 by {@code ChatTemplateGoldenTest} for the Zephyr, Llama-3/3.1/3.2, Qwen2.5, Qwen3,
 * Gemma-3, Mistral-Nemo and DeepSeek-V3 templates): Jinja2's whitespace rules
 * ({@code trim_blocks}, {@code lstrip_blocks}, {@code -} markers; {@link JinjaWhitespace}),
 * Jinja2 operator precedence where Jinjava differs ({@link JinjaRewrite}), Python string and
 * dict methods ({@link PyMethodResolver}), Python printing of values ({@link PyPrint}),
 * transformers' {@code tojson} ({@link PyJson}), {@code raise_exception} and
 * {@code strftime_now} ({@link TemplateGlobals}), and {@code {% generation %}} blocks.
 * Variables: {@code messages}, {@code add_generation_prompt}, {@code tools} and
 * {@code documents} ({@code null} unless given), every {@code *_token} of the config
 * ({@code bos_token}, {@code eos_token}, ...) and any extra variables given to
 * {@link #render(List, boolean, Map)} ({@code date_string}, {@code enable_thinking}, ...).
 * A render error becomes a {@link PaftException#badInput} naming the template's source.
 */
public final class ChatTemplate {
    private static final Jinjava JINJAVA = newJinjava();
    /** Makes {@code strftime_now is defined} true, as it is for transformers' global function. */
    private static final String STRFTIME_NOW_DEFINED = "strftime_now";

    private final String template;
    private final String prepared;
    private final String source;
    private final Map<String, String> specialTokens;
    private final Clock clock;

    /**
     * A template from its text.
     *
     * @param template the Jinja source
     * @param source where it came from, named in error messages (a file path or a description)
     * @param specialTokens {@code bos_token}, {@code eos_token}, ... by variable name
     */
    public ChatTemplate(String template, String source, Map<String, String> specialTokens) {
        if (template == null || template.isBlank()) {
            throw PaftException.badInput(source + ": chat template is empty");
        }
        this.template = template;
        this.prepared = parse(template, source);
        this.source = source;
        this.specialTokens = Map.copyOf(specialTokens);
        this.clock = null;
    }

    private ChatTemplate(ChatTemplate t, Clock clock) {
        this.template = t.template;
        this.prepared = t.prepared;
        this.source = t.source;
        this.specialTokens = t.specialTokens;
        this.clock = clock;
        this.maxMillis = t.maxMillis;
        this.maxIterations = t.maxIterations;
    }

    /**
     * Loads the template of a model or tokenizer directory, or an override.
     *
     * @param dir directory holding {@code tokenizer_config.json} (its special tokens are used
     *     even with an override)
     * @param override {@code null} to use the directory's template ({@code chat_template.jinja} when
     *     present, else {@code tokenizer_config.json}'s {@code chat_template}); otherwise a path
     *     to a template file (when such a file exists) or the template text itself
     * @throws PaftException bad input when there is no template
     */
    public static ChatTemplate load(Path dir, String override) {
        TokenizerConfig cfg = TokenizerConfig.read(dir);
        if (override != null) {
            Path p = null;
            try {
                p = Path.of(override);
            } catch (RuntimeException ignored) {
                // not a path: template text
            }
            if (p != null && !override.contains("{") && Files.isRegularFile(p)) {
                try {
                    return new ChatTemplate(Files.readString(p), p.toString(), cfg.specialTokens());
                } catch (IOException e) {
                    throw PaftException.badInput(p + ": cannot read chat template: " + e.getMessage(), e);
                }
            }
            if (!override.contains("{")) {
                throw PaftException.badInput(
                        "chat template override '" + override + "' is neither a file nor a Jinja template");
            }
            return new ChatTemplate(override, "chat template override", cfg.specialTokens());
        }
        Path file = dir.resolve(TokenizerConfig.FILE_NAME);
        if (cfg.chatTemplate() == null) {
            throw PaftException.badInput(file + ": no chat_template (nor " + TokenizerConfig.JINJA_FILE_NAME
                    + " beside it); give one with a template override");
        }
        Path jinja = TokenizerConfig.jinjaTemplate(dir); // transformers: the file wins over the config entry
        return new ChatTemplate(
                cfg.chatTemplate(), jinja != null ? jinja.toString() : file + " chat_template", cfg.specialTokens());
    }

    /** Like {@link #load} but {@code null} when the directory has no template and none is given. */
    public static ChatTemplate loadIfPresent(Path dir, String override) {
        if (override == null && TokenizerConfig.read(dir).chatTemplate() == null) {
            return null;
        }
        return load(dir, override);
    }

    /** Where the template came from, as named in error messages. */
    public String source() {
        return source;
    }

    public String template() {
        return template;
    }

    /**
     * Renders messages to text.
     *
     * @param addGenerationPrompt append the header that starts an assistant turn
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders messages to text with extra template variables, as the keyword arguments of
     * transformers' {@code apply_chat_template}: {@code tools} (a list of JSON-schema maps),
     * {@code documents}, {@code date_string}, {@code enable_thinking}, ...
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            msgs.add(m.toTemplateMap());
        }
        return renderMessages(msgs, addGenerationPrompt, variables);
    }

    /**
     * Renders messages given as JSON-like maps (strings, numbers, booleans, {@code null}, lists
     * and maps), for messages beyond role and text content: {@code tool_calls}, content parts,
     * {@code reasoning_content}, ...
     */
    public String renderMessages(
            List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        ctx.putAll(variables);
        ctx.putIfAbsent("tools", null);
        ctx.putIfAbsent("documents", null);
        ctx.put("messages", messages);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.putIfAbsent("strftime_now", STRFTIME_NOW_DEFINED);
        RenderResult result;
        TemplateBudget budget = new TemplateBudget(maxMillis, maxIterations);
        try {
            result = budget.run(() -> clock == null
                    ? JINJAVA.renderForResult(prepared, ctx)
                    : TemplateGlobals.withClock(clock, () -> JINJAVA.renderForResult(prepared, ctx)));
        } catch (RuntimeException | OutOfMemoryError e) {
            throw PaftException.badInput(source + ": chat template failed: " + rootMessage(e), e);
        }
        for (TemplateError err : result.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL || limitHit(err.getException())) {
                String msg = err.getException() != null ? rootMessage(err.getException()) : err.getMessage();
                throw PaftException.badInput(source + ": chat template failed (line " + err.getLineno() + "): " + msg);
            }
        }
        return result.getOutput();
    }

    /**
     * The template prepared for Jinjava ({@link JinjaWhitespace}) and parsed once, so a syntax error (an
     * unclosed {@code {{}, a {@code for} without {@code endfor}) is bad input (exit 3) naming the source
     * when the template is loaded, not an internal error at the first record.
     */
    private static String parse(String template, String source) {
        String prepared;
        try {
            prepared = JinjaWhitespace.apply(template);
        } catch (IllegalArgumentException e) {
            throw PaftException.badInput(source + ": chat template syntax error: " + e.getMessage());
        }
        JinjavaInterpreter interpreter = JINJAVA.newInterpreter();
        JinjavaInterpreter.pushCurrent(interpreter);
        try {
            interpreter.parse(prepared);
        } catch (RuntimeException e) {
            throw PaftException.badInput(source + ": chat template syntax error: " + rootMessage(e));
        } finally {
            JinjavaInterpreter.popCurrent();
        }
        for (TemplateError err : interpreter.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw PaftException.badInput(
                        source + ": chat template syntax error (line " + err.getLineno() + "): " + err.getMessage());
            }
        }
        return prepared;
    }

    private static boolean limitHit(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof TemplateBudget.Exceeded
                    || t instanceof com.hubspot.jinjava.interpret.OutputTooBigException
                    || t instanceof com.hubspot.jinjava.interpret.CollectionTooBigException) {
                return true;
            }
        }
        return false;
    }

    /** This template with other time and loop budgets per rendering (tests; the defaults are {@link TemplateBudget}'s). */
    public ChatTemplate withBudget(long millis, long iterations) {
        ChatTemplate t = new ChatTemplate(this, clock);
        t.maxMillis = millis;
        t.maxIterations = iterations;
        return t;
    }

    private long maxMillis = TemplateBudget.MAX_MILLIS;
    private long maxIterations = TemplateBudget.MAX_ITERATIONS;

    /** This template with {@code strftime_now} reading the given clock (tests). */
    ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(this, clock);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t != null) {
            if (t instanceof TemplateGlobals.TemplateRaisedException) {
                return "raise_exception: " + t.getMessage();
            }
            t = t.getCause();
        }
        t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.toString();
    }

    private static Jinjava newJinjava() {
        JinjavaConfig cfg = JinjavaConfig.newBuilder()
                .withTrimBlocks(false) // whitespace is done by JinjaWhitespace, the Jinja2 way
                .withLstripBlocks(false)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseNaturalOperatorPrecedence(true)
                        .withUsePyishObjectMapper(true)
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .withNestedInterpretationEnabled(false)
                .withMaxOutputSize(TemplateBudget.MAX_OUTPUT_CHARS)
                .withMaxStringLength(TemplateBudget.MAX_OUTPUT_CHARS)
                .withMaxListSize(TemplateBudget.MAX_COLLECTION_ITEMS)
                .withMaxMapSize(TemplateBudget.MAX_COLLECTION_ITEMS)
                .withFailOnUnknownTokens(false)
                .withElResolver(new CompositeELResolver() {
                    {
                        add(new PyMethodResolver());
                        add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
                    }
                })
                .build();
        Jinjava j = new Jinjava(cfg);
        j.setResourceLocator(new TemplateBudget.NoResources());
        j.getGlobalContext().registerTag(new TemplateBudget.BudgetedFor());
        j.getGlobalContext()
                .registerFunction(new ELFunctionDefinition(
                        "", "raise_exception", TemplateGlobals.class, "raiseException", String.class));
        j.getGlobalContext()
                .registerFunction(new ELFunctionDefinition(
                        "", "strftime_now", TemplateGlobals.class, "strftimeNow", String.class));
        j.getGlobalContext().registerFilter(new PyJson());
        j.getGlobalContext().registerFilter(new PyPrint());
        j.getGlobalContext().registerExpTest(new PyPrint.Iterable());
        j.getGlobalContext().registerExpTest(new PyPrint.Sequence());
        j.getGlobalContext().registerExpTest(new PyPrint.In());
        return j;
    }
}
