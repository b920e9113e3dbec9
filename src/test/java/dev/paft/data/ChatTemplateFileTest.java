package dev.paft.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * chat_template.jinja beside tokenizer_config.json, with transformers' precedence
 * (PreTrainedTokenizerBase._from_pretrained: the file's template replaces the config's entry;
 * test_chat_template_file_priority): file > config entry; an explicit override beats both.
 */
class ChatTemplateFileTest {
    static final String CONFIG_TEMPLATE = "{% for m in messages %}config:{{ m['content'] }}{% endfor %}";
    static final String FILE_TEMPLATE =
            "{% for m in messages %}file[{{ m['role'] }}]{{ m['content'] }}{{ eos_token }}{% endfor %}";
    static final List<ChatMessage> HI = List.of(new ChatMessage("user", "hi"));

    static void config(Path dir, String template) throws Exception {
        String t = template == null ? "" : ", \"chat_template\": \"" + template.replace("\"", "\\\"") + "\"";
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"" + t + "}");
    }

    @Test
    void jinjaFileWinsOverTheConfigEntry(@TempDir Path dir) throws Exception {
        config(dir, CONFIG_TEMPLATE);
        assertEquals("config:hi", ChatTemplate.load(dir, null).render(HI, false));
        Files.writeString(dir.resolve("chat_template.jinja"), FILE_TEMPLATE);
        ChatTemplate t = ChatTemplate.load(dir, null);
        assertEquals("file[user]hi</s>", t.render(HI, false));
        assertTrue(t.source().endsWith("chat_template.jinja"), t.source());
        assertEquals(FILE_TEMPLATE, TokenizerConfig.read(dir).chatTemplate());
        assertEquals(
                FILE_TEMPLATE,
                TokenizerConfig.read(dir.resolve("tokenizer_config.json")).chatTemplate());
        // an explicit override still wins over both
        assertEquals(
                "o:hi",
                ChatTemplate.load(dir, "{% for m in messages %}o:{{ m['content'] }}{% endfor %}")
                        .render(HI, false));
    }

    @Test
    void jinjaFileAloneIsTheTemplate(@TempDir Path dir) throws Exception {
        config(dir, null);
        assertNull(ChatTemplate.loadIfPresent(dir, null));
        Files.writeString(dir.resolve("chat_template.jinja"), FILE_TEMPLATE);
        assertEquals("file[user]hi</s>", ChatTemplate.loadIfPresent(dir, null).render(HI, false));
        Files.delete(dir.resolve("tokenizer_config.json"));
        assertEquals(FILE_TEMPLATE, TokenizerConfig.read(dir).chatTemplate());
    }

    @Test
    void unreadableOrEmptyJinjaFileIsBadInput(@TempDir Path dir) throws Exception {
        config(dir, CONFIG_TEMPLATE);
        Files.write(dir.resolve("chat_template.jinja"), new byte[] {'{', '{', (byte) 0xff, '}', '}'});
        PaftException e = assertThrows(PaftException.class, () -> ChatTemplate.load(dir, null));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(
                e.getMessage().contains("chat_template.jinja") && e.getMessage().contains("UTF-8"), e.getMessage());
        Files.writeString(dir.resolve("chat_template.jinja"), "");
        e = assertThrows(PaftException.class, () -> ChatTemplate.load(dir, null));
        assertTrue(
                e.getMessage().contains("chat_template.jinja") && e.getMessage().contains("empty"), e.getMessage());
    }
}
