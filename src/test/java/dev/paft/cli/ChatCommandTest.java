package dev.paft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.testutil.TinyModels;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code paft chat} driven through stdin: streamed replies equal {@code paft generate}'s, history and /clear work. */
class ChatCommandTest {
    @TempDir
    static Path tmp;

    static String capture(String stdin, String... args) {
        InputStream oldIn = System.in;
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Paft.execute(args));
        } finally {
            System.setIn(oldIn);
            System.setOut(oldOut);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void chatsStreamsAndKeepsHistory() {
        Path model = TinyModels.demo(tmp.resolve("m"));
        String q = "what does adam like to eat ?";
        String chat = capture(
                q + "\n" + q + "\n/clear\n" + q + "\n/exit\n",
                "chat",
                "--model",
                model.toString(),
                "--max-new-tokens",
                "12",
                "--threads",
                "2");
        List<String> replies = chat.lines()
                .filter(l -> l.contains("assistant> "))
                .map(l -> l.substring(l.indexOf("assistant> ") + 11).strip())
                .toList();
        assertEquals(3, replies.size(), chat);
        assertTrue(chat.contains("(conversation cleared)"), chat);
        // the first reply (and the one after /clear) equal generate's greedy completion of the same single turn
        String gen = capture(
                "",
                "generate",
                "--model",
                model.toString(),
                "--chat",
                "--prompt",
                q,
                "--max-new-tokens",
                "12",
                "--format",
                "json",
                "--threads",
                "2");
        String expected = gen.substring(gen.indexOf("\"completion\":\"") + 14, gen.indexOf("\",\"tokens\""))
                .strip();
        assertTrue(!expected.isEmpty(), gen);
        assertEquals(expected, replies.get(0).replace(" [max 12 tokens]", ""), chat);
        assertEquals(replies.get(0), replies.get(2), "after /clear the conversation starts over");
        assertTrue(chat.startsWith("paft chat: " + model), chat);
    }
}
