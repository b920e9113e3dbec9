package dev.paft.data;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A Hugging Face chat template: the Jinja string from {@code tokenizer_config.json} that turns
 * a list of messages into the model's prompt text, rendered with Jinjava.
 *
 * <p>Rendering matches transformers' {@code apply_chat_template}: {@code trim_blocks} and
 * {@code lstrip_blocks} on, one trailing newline of the template dropped, variables
 * {@code messages}, {@code add_generation_prompt}, every {@code *_token} of the config
 * ({@code bos_token}, {@code eos_token}, ...), and the function {@code raise_exception(msg)}.
 * A render error becomes a {@link PaftException#badInput} naming the template's source.
 */
public final class ChatTemplate {
    private static final Jinjava JINJAVA = newJinjava();

    private final String template;
    private final String source;
    private final Map<String, String> specialTokens;

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
        // jinja2's default keep_trailing_newline=False drops one trailing newline.
        String t = template.endsWith("\n") ? template.substring(0, template.length() - 1) : template;
        this.template = lstripBlocks(t);
        this.source = source;
        this.specialTokens = Map.copyOf(specialTokens);
    }

    /**
     * Loads the template of a model or tokenizer directory, or an override.
     *
     * @param dir directory holding {@code tokenizer_config.json} (its special tokens are used
     *     even with an override)
     * @param override {@code null} to use the directory's {@code chat_template}; otherwise a path
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
                throw PaftException.badInput("chat template override '" + override
                        + "' is neither a file nor a Jinja template");
            }
            return new ChatTemplate(override, "chat template override", cfg.specialTokens());
        }
        Path file = dir.resolve(TokenizerConfig.FILE_NAME);
        if (cfg.chatTemplate() == null) {
            throw PaftException.badInput(file + ": no chat_template (give one with a template override)");
        }
        return new ChatTemplate(cfg.chatTemplate(), file + " chat_template", cfg.specialTokens());
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
        List<Map<String, Object>> msgs = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            msgs.add(m.toTemplateMap());
        }
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        ctx.put("messages", msgs);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result;
        try {
            result = JINJAVA.renderForResult(template, ctx);
        } catch (RuntimeException e) {
            throw PaftException.badInput(source + ": chat template failed: " + rootMessage(e), e);
        }
        for (TemplateError err : result.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) {
                String msg = err.getException() != null ? rootMessage(err.getException()) : err.getMessage();
                throw PaftException.badInput(source + ": chat template failed (line " + err.getLineno()
                        + "): " + msg);
            }
        }
        return result.getOutput();
    }

    /**
     * Jinja2's {@code lstrip_blocks}: spaces and tabs from the start of a line up to a block or
     * comment tag are removed ({@code {%+} keeps them). Done here because Jinjava's own option
     * also strips whitespace before tags in the middle of a line ({@code "a: {% if %}"} loses
     * its space), which Jinja2 keeps.
     */
    static String lstripBlocks(String source) {
        return LSTRIP.matcher(source).replaceAll("").replace("{%+", "{%");
    }

    private static final Pattern LSTRIP = Pattern.compile("(?m)^[ \\t]+(?=\\{[%#](?!\\+))");

    /** HF's {@code raise_exception(message)} template function. */
    public static String raiseException(String message) {
        throw new TemplateRaisedException(message);
    }

    /** The error a template raises with {@code raise_exception}. */
    static final class TemplateRaisedException extends RuntimeException {
        TemplateRaisedException(String message) {
            super(message);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t != null) {
            if (t instanceof TemplateRaisedException) {
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
                .withTrimBlocks(true)
                .withLstripBlocks(false) // done by lstripBlocks, the Jinja2 way
                .withNestedInterpretationEnabled(false)
                .withFailOnUnknownTokens(false)
                .build();
        Jinjava j = new Jinjava(cfg);
        j.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        return j;
    }
}
