package dev.paft.data.template;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.data.ChatMessage;
import dev.paft.errors.PaftException;
import dev.paft.testutil.TestTokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatTemplateTest {
    static final Path LLAMA2 = TestTokenizers.LLAMA2;
    static final Path LLAMA3 = TestTokenizers.LLAMA3;

    @Test
    void zephyrTemplateMatchesHandRenderedText() {
        ChatTemplate t = ChatTemplate.load(LLAMA2, null);
        List<ChatMessage> conv =
                List.of(ChatMessage.system("You are kind."), ChatMessage.user("Hi"), ChatMessage.assistant("Hello"));
        // trim_blocks removes the newline after each {% %} tag; the one after each {{ }} stays.
        assertEquals(
                "<|system|>\nYou are kind.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello</s>\n", t.render(conv, false));
        assertEquals("<|user|>\nHi</s>\n<|assistant|>\n", t.render(List.of(ChatMessage.user("Hi")), true));
        assertEquals("<|user|>\nHi</s>\n", t.render(List.of(ChatMessage.user("Hi")), false));
    }

    @Test
    void llama3TemplateMatchesHandRenderedText() {
        ChatTemplate t = ChatTemplate.load(LLAMA3, null);
        List<ChatMessage> conv =
                List.of(ChatMessage.system("You are kind."), ChatMessage.user(" Hi "), ChatMessage.assistant("Hello"));
        // bos only before the first message; content | trim binds tighter than +;
        // this template version always ends with the assistant header.
        String expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are kind.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        assertEquals(expected, t.render(conv, false));
        assertEquals(expected, t.render(conv, true));
    }

    @Test
    void specialTokensMayBeContentObjects(@TempDir Path dir) throws Exception {
        Files.writeString(
                dir.resolve("tokenizer_config.json"),
                "{\"bos_token\": {\"content\": \"<B>\", \"lstrip\": false},"
                        + "\"eos_token\": \"<E>\", \"pad_token\": null,"
                        + "\"chat_template\": \"{{ bos_token }}{% for m in messages %}{{ m['content'] }}{{ eos_token }}{% endfor %}\\n\"}");
        ChatTemplate t = ChatTemplate.load(dir, null);
        assertEquals("<B>a<E>b<E>", t.render(List.of(ChatMessage.user("a"), ChatMessage.assistant("b")), false));
    }

    @Test
    void raiseExceptionBecomesBadInputNamingTheSource() {
        ChatTemplate t = new ChatTemplate(
                "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok",
                "test-template.jinja", Map.of());
        assertEquals("ok", t.render(List.of(ChatMessage.user("x")), false));
        PaftException e = assertThrows(PaftException.class, () -> t.render(List.of(ChatMessage.assistant("x")), false));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("test-template.jinja"), e.getMessage());
        assertTrue(e.getMessage().contains("Conversation must start with user"), e.getMessage());
    }

    @Test
    void overrideByStringAndByFile(@TempDir Path dir) throws Exception {
        ChatTemplate s = ChatTemplate.load(
                LLAMA2, "{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}{{ eos_token }}");
        assertEquals("[user]hi</s>", s.render(List.of(ChatMessage.user("hi")), false));
        Path f = dir.resolve("t.jinja");
        Files.writeString(f, "{{ bos_token }}{{ messages[0]['content'] }}\n");
        ChatTemplate fromFile = ChatTemplate.load(LLAMA2, f.toString());
        assertEquals("<s>hi", fromFile.render(List.of(ChatMessage.user("hi")), false));
        assertEquals(f.toString(), fromFile.source());
    }

    @Test
    void missingTemplateIsAnErrorNamingTheFile(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        PaftException e = assertThrows(PaftException.class, () -> ChatTemplate.load(dir, null));
        assertTrue(e.getMessage().contains("tokenizer_config.json"), e.getMessage());
    }

    @Test
    void lstripBlocksOnlyStripsAtLineStartAsJinja2Does() {
        ChatTemplate t = new ChatTemplate(
                "a: {% if add_generation_prompt %}b {% endif %}c\n  {% if add_generation_prompt %}d{% endif %}|\n"
                        + "  x {% if add_generation_prompt %}e{% endif %}|\n\t{%+ if true %}f{% endif %}\n  {# note #}g",
                "probe", Map.of());
        // Hand-checked against Jinja2 (trim_blocks + lstrip_blocks) semantics.
        assertEquals("a: b c\nd|\n  x e|\n\tfg", t.render(List.of(), true));
    }

    @Test
    void commonHfTemplateConstructsWork() {
        // ChatML (Qwen2) with loop.first and messages[0]; Python's str.strip(); namespace().
        ChatTemplate chatml = new ChatTemplate(
                "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                        + "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
                        + "{{'<|im_start|>' + message['role'] + '\n' + message['content'].strip() + '<|im_end|>' + '\n'}}{% endfor %}"
                        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
                "chatml", Map.of());
        assertEquals(
                "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                        + "<|im_start|>assistant\n",
                chatml.render(List.of(ChatMessage.user(" hi ")), true));
        ChatTemplate ns = new ChatTemplate(
                "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}"
                        + "{{ ns.n }}{{ messages | length }}",
                "ns", Map.of());
        assertEquals("22", ns.render(List.of(ChatMessage.user("a"), ChatMessage.assistant("b")), false));
    }
}
