package dev.paft.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.data.template.ChatTemplate;
import dev.paft.testutil.TestTokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When EOS is appended, as TRL's current DPOTrainer and SFTTrainer do it: plain-text completions get
 * EOS; conversational ones end with the template's end-of-turn token and get nothing more, in DPO as
 * in SFT. The case is a base-model tokenizer with a ChatML template (end-of-turn {@code <|im_end|>},
 * EOS {@code </s>}), where paft used to append {@code </s>} after {@code <|im_end|>} in DPO only.
 */
class PreferenceEosTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int EOS = 2;
    static final int IM_END = 32000;
    static final String CHATML =
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
                    + " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** The Llama-2 tokenizer plus two added tokens, <|im_end|> = 32000 and <|im_start|> = 32001, and a ChatML template. */
    static Path chatmlTokenizer(Path dir) throws Exception {
        ObjectNode tj = (ObjectNode)
                JSON.readTree(TestTokenizers.LLAMA2.resolve("tokenizer.json").toFile());
        ObjectNode cfg = (ObjectNode) JSON.readTree(
                TestTokenizers.LLAMA2.resolve("tokenizer_config.json").toFile());
        ArrayNode added = (ArrayNode) tj.get("added_tokens");
        ObjectNode dec = (ObjectNode) cfg.get("added_tokens_decoder");
        int id = IM_END;
        for (String t : List.of("<|im_end|>", "<|im_start|>")) {
            ObjectNode a = added.addObject();
            a.put("id", id)
                    .put("content", t)
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", true);
            dec.putObject(Integer.toString(id)).put("content", t).put("special", true);
            id++;
        }
        cfg.put("chat_template", CHATML);
        Files.writeString(dir.resolve("tokenizer.json"), tj.toString());
        Files.writeString(dir.resolve("tokenizer_config.json"), cfg.toString());
        return dir;
    }

    static JsonNode json(String s) throws Exception {
        return JSON.readTree(s);
    }

    @Test
    void conversationalCompletionsEndAtTheEndOfTurnTokenInDpoAsInSft(@TempDir Path dir) throws Exception {
        Path tdir = chatmlTokenizer(dir);
        try (TextTokenizer tok = TextTokenizer.open(tdir)) {
            ChatTemplate t = ChatTemplate.load(tdir, null);
            assertEquals(IM_END, tok.encode("<|im_end|>")[tok.encode("<|im_end|>").length - 1]);
            PreferenceDatasetReader dpo = new PreferenceDatasetReader(tok, t, PreferenceOptions.of(256, 128));
            PreferenceExample conv = dpo.encode(json("""
                    {"prompt": [{"role": "user", "content": "Hi"}],
                     "chosen": [{"role": "assistant", "content": "Hello!"}],
                     "rejected": [{"role": "assistant", "content": "Go away."}]}"""));
            // Hand-rendered: prompt "<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n",
            // chosen "Hello!<|im_end|>" -- nothing after the end-of-turn token, no </s>.
            assertEquals(32001, conv.promptIds()[conv.promptIds().length - 3]); // <|im_start|> assistant \n
            assertEquals("Hello!<|im_end|>", tok.decode(conv.chosenIds(), false).strip());
            assertEquals(
                    "Go away.<|im_end|>", tok.decode(conv.rejectedIds(), false).strip());
            assertEquals(IM_END, last(conv.chosenIds()));
            assertEquals(IM_END, last(conv.rejectedIds()));
            assertEquals(0, count(conv.chosenIds(), EOS));

            // SFT on the same turn trains on the same stop token: its labelled tokens end with <|im_end|>, no </s>.
            SftDatasetReader sft = new SftDatasetReader(tok, t, SftOptions.defaults(256));
            SftExample ex = sft.encode(json("""
                    {"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Hello!"}]}"""));
            int[] labelled = labelled(ex);
            assertEquals(IM_END, last(labelled));
            assertEquals(0, count(labelled, EOS));
            assertEquals(
                    tok.decode(conv.chosenIds(), false).strip(),
                    tok.decode(labelled, false).strip());

            // Plain strings: EOS appended, in DPO as in SFT (TRL's add_eos for non-conversational data).
            PreferenceExample plain = dpo.encode(json("""
                    {"prompt": "The capital of France is", "chosen": " Paris.", "rejected": " Rome."}"""));
            assertEquals(EOS, last(plain.chosenIds()));
            assertEquals(EOS, last(plain.rejectedIds()));
            assertEquals(1, count(plain.chosenIds(), EOS));
            int[] sftPlain = labelled(sft.encode(json("""
                    {"prompt": "The capital of France is", "completion": " Paris."}""")));
            assertEquals(EOS, last(sftPlain));
            // A plain completion that already ends with EOS gets no second one (TRL: endswith(eos_token)).
            PreferenceExample ended = dpo.encode(json("""
                    {"prompt": "Q", "chosen": " A</s>", "rejected": " B"}"""));
            assertEquals(1, count(ended.chosenIds(), EOS));
            assertArrayEquals(plain.promptIds(), dpo.encode(json("""
                    {"prompt": "The capital of France is", "chosen": "x", "rejected": "y"}""")).promptIds());
        }
    }

    static int last(int[] a) {
        return a[a.length - 1];
    }

    static long count(int[] a, int v) {
        return Arrays.stream(a).filter(x -> x == v).count();
    }

    static int[] labelled(SftExample e) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < e.labels().length; i++) {
            if (e.labels()[i] != SftExample.IGNORE) {
                out.add(e.inputIds()[i]);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
