package dev.paft.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.paft.data.template.ChatTemplate;
import dev.paft.testutil.TestTokenizers;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Assistant-turn spans at the character level, for templates whose tokenizer is not checked in. */
class ConversationEncoderTest {
    static String span(ChatTemplate t, TokenizerConfig cfg, List<ChatMessage> msgs, int i) {
        String full = t.render(msgs, false);
        int[] s = ConversationEncoder.assistantSpan(t, ConversationEncoder.turnEnds(cfg), msgs, i, full);
        return full.substring(s[0], s[1]);
    }

    @Test
    void llama3TurnsEndAtEotEvenThoughTheTemplateAlwaysAppendsAHeader() {
        TokenizerConfig cfg = TokenizerConfig.read(TestTokenizers.LLAMA3);
        ChatTemplate t = ChatTemplate.load(TestTokenizers.LLAMA3, null);
        List<ChatMessage> msgs = List.of(
                ChatMessage.user("2+2?"),
                ChatMessage.assistant("4"),
                ChatMessage.user("3+3?"),
                ChatMessage.assistant("6"));
        assertEquals("4<|eot_id|>", span(t, cfg, msgs, 1));
        assertEquals("6<|eot_id|>", span(t, cfg, msgs, 3));
    }

    @Test
    void zephyrTurnsEndAtEosWithoutTheNewline() {
        TokenizerConfig cfg = TokenizerConfig.read(TestTokenizers.LLAMA2);
        ChatTemplate t = ChatTemplate.load(TestTokenizers.LLAMA2, null);
        List<ChatMessage> msgs = List.of(ChatMessage.system("s"), ChatMessage.user("u"), ChatMessage.assistant("a b"));
        assertEquals("a b</s>", span(t, cfg, msgs, 2));
    }

    @Test
    void templatesWithoutSpecialTokensEndAtTheSharedTextLessWhitespace() {
        ChatTemplate t = new ChatTemplate(
                "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}",
                "plain", Map.of());
        List<ChatMessage> msgs =
                List.of(ChatMessage.user("hi"), ChatMessage.assistant("hello"), ChatMessage.user("bye"));
        assertEquals("hello", span(t, TokenizerConfig.empty(), msgs, 1));
    }
}
