package dev.paft.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.data.ChatMessage;
import dev.paft.data.TextTokenizer;
import dev.paft.data.template.ChatTemplate;
import dev.paft.engine.GradMode;
import dev.paft.errors.PaftException;
import dev.paft.io.Json;
import dev.paft.model.KvCache;
import dev.paft.model.LlamaModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Autoregressive generation with a KV cache: the prompt is run once, then one token a step,
 * {@code x_{t+1} ~ pi(. | x_<=t)} picked in Java from the last position's logits ({@link Sampling}:
 * greedy, or temperature / top-p sampling). A row stops at an end token (the tokenizer's EOS and
 * {@code eos_token_id} of config.json / generation_config.json) or after {@code maxNewTokens}.
 *
 * <p>Batches are left-padded with position ids {@code cumsum(mask) - 1}, as HF does, so a prompt
 * generates the same tokens alone or in a batch. Sampling is seeded per prompt: prompt {@code i} draws
 * from the {@code i}-th {@link SplittableRandom#split()} of {@code new SplittableRandom(seed)}, so results
 * do not depend on the batch size. Runs under no-grad; each step in its own NDManager scope.
 */
public final class Generator {
    private Generator() {}

    /**
     * @param maxNewTokens most tokens generated per prompt
     * @param temperature 0 = greedy; otherwise the softmax temperature
     * @param topP nucleus mass in (0, 1]; 1 = no nucleus restriction
     * @param seed sampling seed
     */
    public record Config(int maxNewTokens, double temperature, double topP, long seed) {
        public Config {
            if (maxNewTokens < 1) {
                throw PaftException.usage("max new tokens must be at least 1, got " + maxNewTokens);
            }
            if (!(temperature >= 0) || Double.isInfinite(temperature)) {
                throw PaftException.usage("temperature must be >= 0 (0 = greedy), got " + temperature);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw PaftException.usage("top-p must be in (0, 1], got " + topP);
            }
        }

        /** Greedy decoding of up to {@code maxNewTokens}. */
        public static Config greedy(int maxNewTokens) {
            return new Config(maxNewTokens, 0, 1, 0);
        }
    }

    /** Why a row stopped. */
    public enum Finish {
        EOS,
        LENGTH
    }

    /**
     * One prompt's result.
     *
     * @param tokens generated ids (the end token included when it stopped there)
     * @param text the generated text, special tokens skipped
     */
    public record Generation(int[] promptIds, int[] tokens, String text, Finish finish) {}

    /**
     * The prompt's ids: {@code text} as is, or with {@code chat} as one user turn rendered with the
     * generation prompt; BOS is added as the tokenizer does.
     */
    public static int[] promptIds(TextTokenizer tok, String text, ChatTemplate chat) {
        String s = chat == null ? text : chat.render(List.of(ChatMessage.user(text)), true);
        return tok.encodeStart(s);
    }

    /** The ids of a conversation rendered with the generation prompt. */
    public static int[] promptIds(TextTokenizer tok, List<ChatMessage> messages, ChatTemplate chat) {
        return tok.encodeStart(chat.render(messages, true));
    }

    /**
     * Generates for one prompt, calling {@code onToken} with each new token as it is picked (not
     * the end token); the same tokens as {@link #generate} for that prompt alone.
     */
    public static Generation stream(EvalModel m, int[] prompt, Config cfg, IntConsumer onToken) {
        int[] stops = stopIds(m);
        try (GradMode off = GradMode.off()) {
            return batch(
                            m,
                            List.of(prompt),
                            new SplittableRandom[] {new SplittableRandom(cfg.seed()).split()},
                            cfg,
                            stops,
                            onToken)
                    .get(0);
        }
    }

    /** Generates for every prompt, {@code batchSize} prompts at a time; results in prompt order. */
    public static List<Generation> generate(EvalModel m, List<int[]> prompts, Config cfg, int batchSize) {
        if (batchSize < 1) {
            throw PaftException.usage("batch size must be at least 1, got " + batchSize);
        }
        SplittableRandom root = new SplittableRandom(cfg.seed());
        SplittableRandom[] rngs = new SplittableRandom[prompts.size()];
        for (int i = 0; i < rngs.length; i++) {
            rngs[i] = root.split();
        }
        int[] stops = stopIds(m);
        List<Generation> out = new ArrayList<>(prompts.size());
        try (GradMode off = GradMode.off()) {
            for (int from = 0; from < prompts.size(); from += batchSize) {
                int to = Math.min(prompts.size(), from + batchSize);
                out.addAll(batch(m, prompts.subList(from, to), Arrays.copyOfRange(rngs, from, to), cfg, stops, null));
            }
        }
        return out;
    }

    private static List<Generation> batch(
            EvalModel m, List<int[]> prompts, SplittableRandom[] rngs, Config cfg, int[] stops, IntConsumer onToken) {
        LlamaModel model = m.model();
        TextTokenizer tok = m.tokenizer();
        int b = prompts.size();
        int[][] p = new int[b][];
        int len = 0;
        for (int i = 0; i < b; i++) {
            p[i] = prompts.get(i).length > 0
                    ? prompts.get(i)
                    : new int[] {tok.bosId() >= 0 ? tok.bosId() : tok.requireEos()};
            len = Math.max(len, p[i].length);
        }
        // 1. left-padded prompt [B, P], mask, positions = cumsum(mask) - 1 (pads: 0)
        long[] ids = new long[b * len];
        long[] mask = new long[b * len];
        long[] pos = new long[b * len];
        long[] nextPos = new long[b];
        for (int i = 0; i < b; i++) {
            int pad = len - p[i].length;
            Arrays.fill(ids, i * len, i * len + pad, tok.padId());
            for (int j = 0; j < p[i].length; j++) {
                ids[i * len + pad + j] = p[i][j];
                mask[i * len + pad + j] = 1;
                pos[i * len + pad + j] = j;
            }
            nextPos[i] = p[i].length;
        }
        List<List<Integer>> gen = new ArrayList<>(b);
        Finish[] finish = new Finish[b];
        for (int i = 0; i < b; i++) {
            gen.add(new ArrayList<>());
        }
        try (KvCache cache = model.newCache()) {
            float[][] logits = lastLogits(m, cache, ids, mask, pos, b, len);
            int seen = len;
            for (int step = 0; ; step++) {
                // 2. pick each live row's next token in Java
                long[] nextIds = new long[b];
                boolean live = false;
                for (int i = 0; i < b; i++) {
                    if (finish[i] != null) {
                        nextIds[i] = tok.padId();
                        continue;
                    }
                    requireFinite(logits[i], step);
                    int t = Sampling.next(logits[i], cfg.temperature(), cfg.topP(), rngs[i]);
                    gen.get(i).add(t);
                    nextIds[i] = t;
                    if (onToken != null && !contains(stops, t)) {
                        onToken.accept(t);
                    }
                    if (contains(stops, t)) {
                        finish[i] = Finish.EOS;
                    } else if (gen.get(i).size() >= cfg.maxNewTokens()) {
                        finish[i] = Finish.LENGTH;
                    } else {
                        live = true;
                    }
                }
                if (!live) {
                    break;
                }
                // 3. one step: the new tokens [B, 1], mask over all S + 1 keys, their positions
                seen++;
                long[] stepMask = new long[b * seen];
                for (int i = 0; i < b; i++) {
                    System.arraycopy(mask, i * (seen - 1), stepMask, i * seen, seen - 1);
                    stepMask[i * seen + seen - 1] = 1;
                }
                mask = stepMask;
                long[] stepPos = new long[b];
                for (int i = 0; i < b; i++) {
                    stepPos[i] = nextPos[i]++;
                }
                logits = lastLogits(m, cache, nextIds, mask, stepPos, b, 1);
            }
        }
        List<Generation> out = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            int[] t = gen.get(i).stream().mapToInt(Integer::intValue).toArray();
            int[] shown = finish[i] == Finish.EOS ? Arrays.copyOf(t, t.length - 1) : t;
            out.add(new Generation(prompts.get(i), t, tok.decode(shown, true), finish[i]));
        }
        return out;
    }

    /** A numeric failure (exit 4) when a row of next-token logits holds NaN or Inf (a token would be picked from garbage). */
    static void requireFinite(float[] logits, int step) {
        for (int v = 0; v < logits.length; v++) {
            if (!Float.isFinite(logits[v])) {
                throw PaftException.numeric("next-token logits are not finite (logit of token " + v + " is " + logits[v]
                        + ") at generated token " + (step + 1) + ": the model's forward pass overflows");
            }
        }
    }

    /** Runs {@code t} new positions through the model (extending the cache); last position's logits per row. */
    private static float[][] lastLogits(EvalModel m, KvCache cache, long[] ids, long[] mask, long[] pos, int b, int t) {
        LlamaModel model = m.model();
        try (NDManager scope = model.manager().newSubManager()) {
            int s = mask.length / b;
            NDArray idArr = scope.create(ids, new Shape(b, t));
            NDArray maskArr = scope.create(mask, new Shape(b, s));
            NDArray posArr = scope.create(pos, new Shape(b, t));
            NDArray h = model.hidden(scope, idArr, maskArr, posArr, m.adapter(), cache, false); // [B, T, H]
            NDArray last = h.get(new NDIndex(":, {}:, :", t - 1)); // [B, 1, H]
            float[] flat = model.logits(scope, last).toFloatArray(); // [B, 1, V]
            int v = flat.length / b;
            float[][] rows = new float[b][];
            for (int i = 0; i < b; i++) {
                rows[i] = Arrays.copyOfRange(flat, i * v, (i + 1) * v);
            }
            return rows;
        }
    }

    /** End tokens: the tokenizer's EOS and every {@code eos_token_id} of config.json / generation_config.json. */
    static int[] stopIds(EvalModel m) {
        Set<Integer> ids = new LinkedHashSet<>();
        if (m.tokenizer().eosId() >= 0) {
            ids.add(m.tokenizer().eosId());
        }
        JsonNode raw = m.model().config().raw();
        if (raw != null) {
            addIds(ids, raw.get("eos_token_id"));
        }
        Path gc = m.tokenizerDir().resolve("generation_config.json");
        if (Files.isRegularFile(gc)) {
            addIds(ids, Json.readObject(gc).get("eos_token_id"));
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void addIds(Set<Integer> ids, JsonNode v) {
        if (v == null) {
            return;
        }
        if (v.isArray()) {
            v.forEach(x -> addIds(ids, x));
        } else if (v.canConvertToInt() && v.asInt() >= 0) {
            ids.add(v.asInt());
        }
    }

    private static boolean contains(int[] xs, int x) {
        for (int y : xs) {
            if (y == x) {
                return true;
            }
        }
        return false;
    }
}
