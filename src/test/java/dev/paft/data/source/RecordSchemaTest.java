package dev.paft.data.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.data.BadRecordException;
import dev.paft.errors.PaftException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each known schema to TRL's shape, written out by hand; unknown schemas name what was found and expected. */
class RecordSchemaTest {
    static final RecordSchema SFT = RecordSchema.of(RecordSchema.Task.SFT);
    static final RecordSchema PREF = RecordSchema.of(RecordSchema.Task.PREFERENCE);

    static JsonNode json(String s) {
        return TestDatasets.records(s).get(0);
    }

    static void maps(RecordSchema schema, String in, String out) {
        assertEquals(json(out), schema.normalize(json(in)), in);
    }

    @Test
    void trlRecordsPassUnchanged() {
        for (String r : new String[] {
            "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
            "{\"prompt\": \"a\", \"completion\": \"b\", \"prompt_id\": \"x\"}",
            "{\"text\": \"a b\"}"
        }) {
            maps(SFT, r, r);
        }
        for (String r : new String[] {
            "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}",
            "{\"chosen\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}],"
                    + " \"rejected\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"c\"}]}"
        }) {
            maps(PREF, r, r);
        }
        // ultrafeedback_binarized: a string prompt beside full conversations stays (the reader extracts the prompt)
        String uf =
                "{\"prompt\": \"a\", \"chosen\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}],"
                        + " \"rejected\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"c\"}]}";
        maps(PREF, uf, uf);
        maps(SFT, "{\"text\": \"t\", \"prompt\": null}", "{\"text\": \"t\"}"); // Parquet's null columns are absent
    }

    @Test
    void shareGpt() {
        maps(
                SFT,
                "{\"id\": \"x\", \"conversations\": [{\"from\": \"system\", \"value\": \"S\"}, {\"from\": \"human\", \"value\": \"Q\"},"
                        + " {\"from\": \"gpt\", \"value\": \"A\", \"weight\": 1}]}",
                "{\"id\": \"x\", \"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Q\"},"
                        + " {\"role\": \"assistant\", \"content\": \"A\"}]}");
        maps(
                SFT,
                "{\"system\": \"S\", \"conversations\": [{\"from\": \"human\", \"value\": \"Q\"}, {\"from\": \"gpt\", \"value\": \"A\"}]}",
                "{\"system\": \"S\", \"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Q\"},"
                        + " {\"role\": \"assistant\", \"content\": \"A\"}]}");
        // LLaMA-Factory's ShareGPT preference form: chosen/rejected are single messages
        maps(
                PREF,
                "{\"conversations\": [{\"from\": \"human\", \"value\": \"Q\"}], \"chosen\": {\"from\": \"gpt\", \"value\": \"good\"},"
                        + " \"rejected\": {\"from\": \"gpt\", \"value\": \"bad\"}}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"good\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"bad\"}]}");
        BadRecordException e = assertThrows(
                BadRecordException.class,
                () -> SFT.normalize(json("{\"conversations\": [{\"from\": \"bot\", \"value\": \"Q\"}]}")));
        assertEquals(
                "conversations[0].from: unknown role 'bot' (expected system, user, assistant, tool; or ShareGPT's human, gpt,"
                        + " observation, function_call)",
                e.getMessage());
    }

    @Test
    void alpaca() {
        maps(
                SFT,
                "{\"instruction\": \"Add.\", \"input\": \"2 and 3\", \"output\": \"5\"}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Add.\\n2 and 3\"}], \"completion\": [{\"role\": \"assistant\", \"content\": \"5\"}]}");
        maps(
                SFT,
                "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"hi\", \"system\": \"S\", \"history\": [[\"q1\", \"a1\"]]}",
                "{\"prompt\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"q1\"},"
                        + " {\"role\": \"assistant\", \"content\": \"a1\"}, {\"role\": \"user\", \"content\": \"Say hi.\"}],"
                        + " \"completion\": [{\"role\": \"assistant\", \"content\": \"hi\"}]}");
        maps(
                PREF,
                "{\"instruction\": \"Add.\", \"input\": \"2 and 3\", \"chosen\": \"5\", \"rejected\": \"6\"}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Add.\\n2 and 3\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"5\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"6\"}]}");
    }

    @Test
    void preferenceListsWithAndWithoutPrompt() {
        // a string prompt beside assistant-only answers becomes the user turn
        maps(
                PREF,
                "{\"prompt\": \"Q\", \"chosen\": [{\"role\": \"assistant\", \"content\": \"good\"}],"
                        + " \"rejected\": [{\"from\": \"gpt\", \"value\": \"bad\"}]}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"good\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"bad\"}]}");
        // a message-list prompt with string answers
        maps(
                PREF,
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Q\"}], \"chosen\": \"good\", \"rejected\": \"bad\"}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Q\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"good\"}],"
                        + " \"rejected\": [{\"role\": \"assistant\", \"content\": \"bad\"}]}");
    }

    @Test
    void fieldMapping() {
        RecordSchema qa = new RecordSchema(RecordSchema.Task.SFT, Map.of("prompt", "question", "completion", "answer"));
        maps(
                qa,
                "{\"question\": \"Q\", \"answer\": \"A\", \"source\": \"s\"}",
                "{\"prompt\": \"Q\", \"completion\": \"A\", \"source\": \"s\"}");
        RecordSchema chat = new RecordSchema(
                RecordSchema.Task.SFT, Map.of("messages", "dialog", "role", "speaker", "content", "text"));
        maps(
                chat,
                "{\"dialog\": [{\"speaker\": \"user\", \"text\": \"Q\"}, {\"speaker\": \"assistant\", \"text\": \"A\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"A\"}]}");
        RecordSchema se = new RecordSchema(
                RecordSchema.Task.PREFERENCE,
                Map.of("prompt", "question", "chosen", "response_j", "rejected", "response_k"));
        maps(
                se,
                "{\"question\": \"Q\", \"response_j\": \"good\", \"response_k\": \"bad\"}",
                "{\"prompt\": \"Q\", \"chosen\": \"good\", \"rejected\": \"bad\"}");
        BadRecordException e =
                assertThrows(BadRecordException.class, () -> qa.normalize(json("{\"q\": \"Q\", \"answer\": \"A\"}")));
        assertEquals(
                "data.fields.prompt is 'question', but the record has no column 'question' (found columns [q, answer])",
                e.getMessage());
        PaftException p = assertThrows(
                PaftException.class, () -> new RecordSchema(RecordSchema.Task.SFT, Map.of("question", "q")));
        assertEquals(2, p.exitCode());
    }

    @Test
    void unknownSchemaNamesColumnsAndExpectedSchemas() {
        BadRecordException e = assertThrows(
                RecordSchema.UnknownSchemaException.class, () -> SFT.normalize(json("{\"a\": 1, \"b\": \"x\"}")));
        assertEquals(
                "found columns [a, b]; expected one of: messages | prompt+completion | text | conversations (ShareGPT)"
                        + " | instruction+output (Alpaca); map other columns with data.fields (e.g. data.fields.prompt: question)",
                e.getMessage());
        e = assertThrows(
                RecordSchema.UnknownSchemaException.class,
                () -> PREF.normalize(json("{\"prompt\": \"p\", \"completion\": \"c\"}")));
        assertEquals(
                "found columns [prompt, completion]; expected one of: prompt+chosen+rejected | chosen+rejected (message lists)"
                        + " | conversations+chosen+rejected (ShareGPT) | instruction+chosen+rejected (Alpaca); map other columns with data.fields"
                        + " (e.g. data.fields.prompt: question)",
                e.getMessage());
    }
}
