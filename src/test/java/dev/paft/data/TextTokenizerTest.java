package dev.paft.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.errors.PaftException;
import dev.paft.testutil.TestTokenizers;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class TextTokenizerTest {
    @Test
    void specialIdsFromConfig() {
        try (TextTokenizer tok = TextTokenizer.open(TestTokenizers.LLAMA2)) {
            assertEquals(1, tok.bosId());
            assertEquals(2, tok.eosId());
            assertEquals(2, tok.padId()); // Llama has no pad: falls back to eos
            assertTrue(tok.addsBos());
        }
    }

    @Test
    void encodeAddsNoSpecialTokensAndRoundTrips() {
        try (TextTokenizer tok = TextTokenizer.open(TestTokenizers.LLAMA2)) {
            int[] ids = tok.encode("Hello world");
            assertTrue(ids[0] != 1);
            assertEquals("Hello world", tok.decode(ids));
            int[] withBos = tok.encodeStart("Hello world");
            assertEquals(1, withBos[0]);
            assertEquals(ids.length + 1, withBos.length);
        }
    }

    @Test
    void literalBosIsNotDoubled() {
        try (TextTokenizer tok = TextTokenizer.open(TestTokenizers.LLAMA2)) {
            int[] ids = tok.encodeStart("<s>Hi</s>");
            assertEquals(1, ids[0]);
            assertTrue(ids[1] != 1);
            assertEquals(2, ids[ids.length - 1]);
            long bos = Arrays.stream(ids).filter(i -> i == 1).count();
            assertEquals(1, bos);
        }
    }

    @Test
    void missingTokenizerJsonIsBadInput() {
        PaftException e = assertThrows(PaftException.class, () -> TextTokenizer.open(TestTokenizers.LLAMA3));
        assertEquals(PaftException.BAD_INPUT, e.exitCode());
        assertTrue(e.getMessage().contains("tokenizer.json"));
    }
}
