package dev.paft.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.data.TokenizerConfig;
import dev.paft.errors.PaftException;
import dev.paft.io.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The output tokenizer of a merge and the embedding rows that go with it, as mergekit builds them
 * (mergekit/tokenizer/build.py, mergekit/tokenizer/embed.py, mergekit/merge.py):
 *
 * <ul>
 *   <li>{@code tokenizer_source: base} (or {@code tokenizer: {source: base}}): the base's tokenizer,
 *       stripped of tokens whose id is at or above the base's {@code vocab_size};
 *       {@code union}: the base's tokenizer plus every token of the other models' vocabularies it
 *       lacks, then their added tokens (first settings seen win); a model path: that model's
 *       tokenizer. Tokens listed under {@code tokenizer.tokens} are added when missing.</li>
 *   <li>Every input's embedding rows ({@code embed_tokens}, {@code lm_head}: a tensor outside the
 *       layers whose first dimension is the model's {@code vocab_size}) are permuted into the output
 *       vocabulary before the merge method sees them. A token the model has keeps its own row
 *       (unless {@code force}); a missing one gets a default: the configured {@code source}, else the
 *       one model holding it, else the base's row when the base has it, else the mean of the models
 *       that have it, else zeros. With {@code pad_to_multiple_of} the rows past the vocabulary are the
 *       mean of the real rows (per input, before the merge).</li>
 *   <li>The output directory gets tokenizer.json, tokenizer_config.json (added tokens),
 *       special_tokens_map.json (and tokenizer.model when the source has one), config.json's
 *       {@code vocab_size} (padded), and the chat template as chat_template.jinja: a named template
 *       ({@code alpaca}, {@code chatml}, {@code exaone}, {@code llama3}, {@code mistral}, written for
 *       paft in the formats of mergekit's mergekit/_data/chat_templates), {@code auto} (the template
 *       most input models share) or a literal Jinja string.</li>
 * </ul>
 *
 * Vocabularies are read from tokenizer.json (the model's vocab plus {@code added_tokens}), the
 * same file paft's tokenizer ({@link dev.paft.data.TextTokenizer}, DJL's HuggingFaceTokenizer) loads;
 * the output is written as that file, so it loads the same way. Where mergekit's order depends on
 * Python set and dict iteration (which models' new tokens come first), paft takes the base first,
 * then the models in the config's order, each in id order.
 */
final class TokenizerMerge {

    /** What the config asks for. {@code source} null: no vocabulary merge (only a chat template, if any). */
    record Spec(String source, Map<String, TokenSource> tokens, Integer padToMultipleOf, String chatTemplate) {
        boolean buildsVocab() {
            return source != null;
        }
    }

    /** One {@code tokens:} entry: where a token's default row comes from, and {@code force}. */
    record TokenSource(Kind kind, String model, Integer tokenId, String token, boolean force) {}

    enum Kind {
        AUTO,
        MODEL,
        MODEL_TOKEN,
        ZERO
    }

    /** Reads {@code tokenizer_source}, {@code tokenizer} and {@code chat_template} of a mergekit YAML; null when none is set. */
    static Spec parse(Map<String, Object> root, String where) {
        Object ts = root.get("tokenizer_source");
        Object tk = root.get("tokenizer");
        Object ct = root.get("chat_template");
        if (ts != null && tk != null) {
            throw PaftException.usage(
                    where + ": give either tokenizer_source or tokenizer, not both (as mergekit requires)");
        }
        if (ct != null && !(ct instanceof String)) {
            throw PaftException.usage(
                    where + ": chat_template must be a string (a template name, 'auto', or Jinja text)");
        }
        String chat = (String) ct;
        if (ts == null && tk == null) {
            return chat == null ? null : new Spec(null, Map.of(), null, chat);
        }
        if (ts != null) {
            if (!(ts instanceof String s) || s.isBlank()) {
                throw PaftException.usage(where + ": tokenizer_source must be base, union or a model path");
            }
            return new Spec(s, Map.of(), null, chat);
        }
        if (!(tk instanceof Map<?, ?> m)) {
            throw PaftException.usage(where + ": 'tokenizer' must be a mapping {source, tokens, pad_to_multiple_of}");
        }
        for (Object k : m.keySet()) {
            if (!List.of("source", "tokens", "pad_to_multiple_of").contains(String.valueOf(k))) {
                throw PaftException.usage(
                        where + ": tokenizer: unknown key '" + k + "' (known: source, tokens, pad_to_multiple_of)");
            }
        }
        Object src = m.get("source");
        if (src != null && !(src instanceof String)) {
            throw PaftException.usage(where + ": tokenizer.source must be base, union or a model path");
        }
        Integer pad = null;
        if (m.get("pad_to_multiple_of") != null) {
            if (!(m.get("pad_to_multiple_of") instanceof Integer p) || p < 1) {
                throw PaftException.usage(where + ": tokenizer.pad_to_multiple_of must be a positive integer, got "
                        + m.get("pad_to_multiple_of"));
            }
            pad = p;
        }
        Map<String, TokenSource> tokens = new LinkedHashMap<>();
        if (m.get("tokens") != null) {
            if (!(m.get("tokens") instanceof Map<?, ?> tm)) {
                throw PaftException.usage(where + ": tokenizer.tokens must be a mapping of token to {source, force}");
            }
            for (var e : tm.entrySet()) {
                tokens.put(
                        String.valueOf(e.getKey()),
                        tokenSource(e.getValue(), where + ": tokenizer.tokens['" + e.getKey() + "']"));
            }
        }
        return new Spec(src == null ? "union" : (String) src, tokens, pad, chat);
    }

    private static TokenSource tokenSource(Object raw, String where) {
        if (raw == null) {
            return new TokenSource(Kind.AUTO, null, null, null, false);
        }
        if (!(raw instanceof Map<?, ?> m)) {
            throw PaftException.usage(where + " must be a mapping {source, force}");
        }
        for (Object k : m.keySet()) {
            if (!List.of("source", "force").contains(String.valueOf(k))) {
                throw PaftException.usage(where + ": unknown key '" + k + "' (known: source, force)");
            }
        }
        Object f = m.get("force");
        if (f != null && !(f instanceof Boolean)) {
            throw PaftException.usage(where + ".force must be true or false");
        }
        boolean force = Boolean.TRUE.equals(f);
        Object s = m.get("source");
        if (s == null) {
            return new TokenSource(Kind.AUTO, null, null, null, force);
        }
        if (s instanceof String model) {
            return new TokenSource(Kind.MODEL, model, null, null, force);
        }
        if (!(s instanceof Map<?, ?> sm) || !(sm.get("kind") instanceof String kind)) {
            throw PaftException.usage(where
                    + ".source must be a model path, {kind: zero} or {kind: model_token, model, token | token_id}");
        }
        if (kind.equals("zero")) {
            if (sm.size() != 1) {
                throw PaftException.usage(where + ".source: {kind: zero} takes no other keys");
            }
            return new TokenSource(Kind.ZERO, null, null, null, force);
        }
        if (!kind.equals("model_token")) {
            throw PaftException.usage(where + ".source.kind must be zero or model_token, got " + kind);
        }
        for (Object k : sm.keySet()) {
            if (!List.of("kind", "model", "token", "token_id").contains(String.valueOf(k))) {
                throw PaftException.usage(
                        where + ".source: unknown key '" + k + "' (known: kind, model, token, token_id)");
            }
        }
        if (!(sm.get("model") instanceof String model)) {
            throw PaftException.usage(where + ".source.model must be a path");
        }
        Object tid = sm.get("token_id");
        Object tok = sm.get("token");
        if ((tid == null) == (tok == null)) {
            throw PaftException.usage(where + ".source: give exactly one of token or token_id");
        }
        if (tid != null && !(tid instanceof Integer)) {
            throw PaftException.usage(where + ".source.token_id must be an integer");
        }
        return new TokenSource(Kind.MODEL_TOKEN, model, (Integer) tid, tok == null ? null : String.valueOf(tok), force);
    }

    // ------------------------------------------------------------------ vocabularies

    /** A model's tokenizer as paft reads it: token -> id (model vocab and added tokens), the added tokens' settings. */
    record Vocab(Path dir, ObjectNode json, Map<String, Integer> ids, Map<String, ObjectNode> added, int limit) {
        /** The row of a token in this model's embeddings, or -1 (absent, or at or past the model's vocab_size). */
        int row(String token) {
            Integer i = ids.get(token);
            return i == null || i >= limit ? -1 : i;
        }
    }

    /** The model's vocab_size (config.json, or its text_config), or -1 when it does not say. */
    static int configVocabSize(Path modelDir) {
        Path cfg = modelDir.resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            return -1;
        }
        JsonNode c = Json.readObject(cfg);
        JsonNode v = c.path("vocab_size");
        if (!v.isInt() && c.path("text_config").path("vocab_size").isInt()) {
            v = c.path("text_config").path("vocab_size");
        }
        return v.isInt() ? v.asInt() : -1;
    }

    /** Reads a model directory's tokenizer.json; null when it has none (mergekit then assumes the base's). */
    static Vocab readVocab(Path dir, boolean strip) {
        Path f = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(f)) {
            return null;
        }
        JsonNode root = Json.readObject(f);
        if (!(root instanceof ObjectNode json) || !(root.path("model") instanceof ObjectNode model)) {
            throw PaftException.badInput(f + ": not a tokenizer.json (no 'model' object)");
        }
        int limit = configVocabSize(dir);
        if (strip && limit > 0) {
            strip(f, json, model, limit);
        }
        Map<String, Integer> ids = modelVocab(f, model);
        Map<String, ObjectNode> added = new LinkedHashMap<>();
        for (JsonNode a : json.path("added_tokens")) {
            if (a instanceof ObjectNode o
                    && o.path("content").isTextual()
                    && o.path("id").canConvertToInt()) {
                ids.put(o.get("content").asText(), o.get("id").asInt());
                added.put(o.get("content").asText(), o);
            }
        }
        return new Vocab(
                dir,
                json,
                ids,
                added,
                limit > 0
                        ? limit
                        : ids.values().stream().mapToInt(i -> i + 1).max().orElse(0));
    }

    private static Map<String, Integer> modelVocab(Path f, ObjectNode model) {
        Map<String, Integer> ids = new LinkedHashMap<>();
        JsonNode v = model.path("vocab");
        if (v.isObject()) {
            v.fields().forEachRemaining(e -> ids.put(e.getKey(), e.getValue().asInt()));
        } else if (v.isArray()) { // Unigram: [[piece, score], ...], the id is the index
            for (int i = 0; i < v.size(); i++) {
                ids.put(v.get(i).get(0).asText(), i);
            }
        } else {
            throw PaftException.badInput(f + ": model." + "vocab is missing (tokenizer model type "
                    + model.path("type").asText() + ")");
        }
        return ids;
    }

    /**
     * mergekit's {@code get_stripped_tokenizer}: drops the tokens whose id is at or past the
     * model's vocab_size (and, for BPE, the merges that use or make them); other model types with
     * such tokens are refused, as mergekit refuses them.
     */
    private static void strip(Path f, ObjectNode json, ObjectNode model, int limit) {
        if (json.path("added_tokens") instanceof ArrayNode a) {
            for (int i = a.size() - 1; i >= 0; i--) {
                if (a.get(i).path("id").asInt() >= limit) {
                    a.remove(i);
                }
            }
        }
        Set<String> unused = new LinkedHashSet<>();
        modelVocab(f, model).forEach((t, i) -> {
            if (i >= limit) {
                unused.add(t);
            }
        });
        if (unused.isEmpty()) {
            return;
        }
        if (!"BPE".equals(model.path("type").asText()) || !(model.get("vocab") instanceof ObjectNode vocab)) {
            throw PaftException.badInput(
                    f + ": " + unused.size() + " tokens have ids at or past the model's vocab_size " + limit
                            + " and the tokenizer is " + model.path("type").asText()
                            + "; only BPE tokenizers can be stripped for a tokenizer merge (as in mergekit)");
        }
        unused.forEach(vocab::remove);
        if (model.get("merges") instanceof ArrayNode merges) {
            for (int i = merges.size() - 1; i >= 0; i--) {
                JsonNode m = merges.get(i);
                List<String> parts = new ArrayList<>();
                if (m.isTextual()) {
                    parts.addAll(List.of(m.asText().split(" ", -1)));
                } else {
                    m.forEach(x -> parts.add(x.asText()));
                }
                // mergekit's _keep_merge checks the parts; the merged token must stay too, or the
                // tokenizers library refuses the file (a merge whose result is not in the vocab)
                if (parts.stream().anyMatch(unused::contains) || unused.contains(String.join("", parts))) {
                    merges.remove(i);
                }
            }
        }
    }

    // ------------------------------------------------------------------ the built tokenizer

    /**
     * The output tokenizer: its files' JSON, its vocabulary (token -> id), the row count of the
     * merged embeddings, and for every model (by reference) the output row -> model row map.
     */
    record Built(
            Spec spec,
            Path sourceDir,
            ObjectNode tokenizerJson,
            ObjectNode tokenizerConfig,
            Map<String, Integer> vocab,
            int rows,
            Map<String, int[]> permutations,
            Map<String, Vocab> vocabs,
            String baseKey,
            String chatTemplate) {

        /** The permutation of a model (by {@link MergeSource.Ref#display()}), the base's when it has no tokenizer. */
        int[] permutation(String key) {
            int[] p = permutations.get(key);
            return p != null ? p : permutations.get(baseKey);
        }
    }

    /**
     * Builds the output tokenizer.
     *
     * @param base the base model (or the first referenced model when there is no base), by its reference
     * @param models every referenced model, in the config's order ({@code display()} string to model directory)
     * @param resolve resolves a model path named in the tokenizer config to its reference key
     */
    static Built build(
            Spec spec,
            String baseKey,
            Map<String, Path> models,
            Function<String, String> resolve,
            Consumer<String> log) {
        Path baseDir = models.get(baseKey);
        String chat = spec.chatTemplate() == null ? null : chatTemplate(spec.chatTemplate(), models.values(), log);
        if (!spec.buildsVocab()) {
            return new Built(spec, baseDir, null, null, null, 0, Map.of(), Map.of(), baseKey, chat);
        }
        Vocab base = readVocab(baseDir, true);
        if (base == null) {
            throw PaftException.badInput(
                    baseDir + ": no tokenizer.json; a tokenizer merge (tokenizer_source / tokenizer) reads the base "
                            + "model's tokenizer.json (only fast tokenizers are supported, as in mergekit)");
        }
        Map<String, Vocab> vocabs = new LinkedHashMap<>();
        vocabs.put(baseKey, base);
        for (var e : models.entrySet()) {
            if (!e.getKey().equals(baseKey)) {
                Vocab v = readVocab(e.getValue(), false);
                if (v == null) {
                    log.accept(
                            "warning: " + e.getValue()
                                    + " has no tokenizer.json; its vocabulary is assumed to be the base's (as mergekit assumes)");
                } else {
                    vocabs.put(e.getKey(), v);
                }
            }
        }
        ObjectNode outJson;
        ObjectNode outCfg;
        Path sourceDir;
        String src = spec.source();
        if (src.equals("base") || src.equals("union")) {
            outJson = base.json().deepCopy();
            sourceDir = baseDir;
        } else {
            String key = resolve.apply(src);
            Path dir = models.get(key);
            if (dir == null) {
                throw PaftException.usage("tokenizer source " + src + " is not one of the merge's models");
            }
            Vocab v = readVocab(dir, false);
            if (v == null) {
                throw PaftException.badInput(dir + ": no tokenizer.json (the tokenizer source)");
            }
            outJson = v.json().deepCopy();
            sourceDir = dir;
        }
        Path cfgFile = sourceDir.resolve(TokenizerConfig.FILE_NAME);
        outCfg = Files.isRegularFile(cfgFile) && Json.readObject(cfgFile) instanceof ObjectNode o
                ? o.deepCopy()
                : Json.MAPPER.createObjectNode();
        Adder adder = new Adder(outJson, outCfg);
        if (src.equals("union")) {
            // mergekit's build_union_tokenizer: first every model's plain tokens, then the added ones
            Set<String> plain = new LinkedHashSet<>();
            Map<String, ObjectNode> added = new LinkedHashMap<>();
            Set<String> warned = new HashSet<>();
            for (var e : vocabs.entrySet()) {
                Vocab v = e.getValue();
                v.ids().entrySet().stream().sorted(Map.Entry.comparingByValue()).forEach(t -> {
                    if (t.getValue() < v.limit() && !v.added().containsKey(t.getKey())) {
                        plain.add(t.getKey());
                    }
                });
                for (var a : v.added().entrySet()) {
                    if (a.getValue().path("id").asInt() >= v.limit()) {
                        continue;
                    }
                    ObjectNode prev = added.get(a.getKey());
                    if (prev == null) {
                        added.put(a.getKey(), a.getValue());
                    } else if (!settings(prev).equals(settings(a.getValue())) && warned.add(a.getKey())) {
                        log.accept("warning: token '" + a.getKey()
                                + "' is added with different settings by different models; the first is used");
                    }
                }
            }
            for (String t : plain) {
                if (!added.containsKey(t)) {
                    adder.add(t, null);
                }
            }
            for (var a : added.entrySet()) {
                adder.add(a.getKey(), a.getValue());
            }
        }
        for (String t : spec.tokens().keySet()) {
            adder.add(t, null);
        }
        Map<String, Integer> vocab = adder.vocab();
        int n = vocab.values().stream().mapToInt(i -> i + 1).max().orElse(0);
        int rows = n;
        if (spec.padToMultipleOf() != null && rows % spec.padToMultipleOf() != 0) {
            rows = (rows / spec.padToMultipleOf() + 1) * spec.padToMultipleOf();
        }
        Map<String, int[]> perms = new LinkedHashMap<>();
        for (var e : vocabs.entrySet()) {
            int[] p = new int[n];
            Arrays.fill(p, -1);
            for (var t : vocab.entrySet()) {
                p[t.getValue()] = e.getValue().row(t.getKey());
            }
            perms.put(e.getKey(), p);
        }
        for (var e : spec.tokens().entrySet()) {
            TokenSource ts = e.getValue();
            if (ts.model() != null && !models.containsKey(resolve.apply(ts.model()))) {
                throw PaftException.usage("tokenizer.tokens['" + e.getKey() + "'].source: model " + ts.model()
                        + " is not part of the merge");
            }
            // checked before anything is written (mergekit asserts these while merging)
            Vocab v = ts.model() == null ? null : vocabs.getOrDefault(resolve.apply(ts.model()), base);
            if (ts.kind() == Kind.MODEL && v.row(e.getKey()) < 0) {
                throw PaftException.usage(
                        "tokenizer.tokens['" + e.getKey() + "'].source: model " + ts.model() + " has no token '"
                                + e.getKey() + "' (use {kind: model_token, model, token} to take another token's row)");
            }
            if (ts.kind() == Kind.MODEL_TOKEN && ts.token() != null && v.row(ts.token()) < 0) {
                throw PaftException.usage("tokenizer.tokens['" + e.getKey() + "'].source: token '" + ts.token()
                        + "' is not in model " + ts.model());
            }
        }
        return new Built(spec, sourceDir, outJson, outCfg, vocab, rows, perms, vocabs, baseKey, chat);
    }

    private static String settings(ObjectNode o) {
        ObjectNode c = o.deepCopy();
        c.remove("id");
        return c.toString();
    }

    /** Adds tokens as transformers' {@code add_tokens} does on a fast tokenizer: a new id past the vocabulary and the added tokens. */
    private static final class Adder {
        final ObjectNode json;
        final ObjectNode cfg;
        final Map<String, Integer> vocab;
        int next;

        Adder(ObjectNode json, ObjectNode cfg) {
            this.json = json;
            this.cfg = cfg;
            Map<String, Integer> model = modelVocab(Path.of("tokenizer.json"), (ObjectNode) json.get("model"));
            this.vocab = new LinkedHashMap<>(model);
            int max = model.size();
            for (JsonNode a : json.path("added_tokens")) {
                vocab.put(a.path("content").asText(), a.path("id").asInt());
                max = Math.max(max, a.path("id").asInt() + 1);
            }
            this.next = max;
        }

        void add(String content, ObjectNode settings) {
            if (vocab.containsKey(content)) {
                return;
            }
            int id = next++;
            ObjectNode a = Json.MAPPER.createObjectNode();
            a.put("id", id);
            a.put("content", content);
            a.put(
                    "single_word",
                    settings != null && settings.path("single_word").asBoolean(false));
            a.put("lstrip", settings != null && settings.path("lstrip").asBoolean(false));
            a.put("rstrip", settings != null && settings.path("rstrip").asBoolean(false));
            boolean special = settings != null && settings.path("special").asBoolean(false);
            a.put("normalized", settings != null ? settings.path("normalized").asBoolean(!special) : true);
            a.put("special", special);
            if (!(json.get("added_tokens") instanceof ArrayNode)) {
                json.putArray("added_tokens");
            }
            ((ArrayNode) json.get("added_tokens")).add(a);
            ObjectNode dec =
                    cfg.get("added_tokens_decoder") instanceof ObjectNode d ? d : cfg.putObject("added_tokens_decoder");
            ObjectNode entry = a.deepCopy();
            entry.remove("id");
            dec.set(Integer.toString(id), entry);
            vocab.put(content, id);
        }

        Map<String, Integer> vocab() {
            return vocab;
        }
    }

    // ------------------------------------------------------------------ embedding rows

    /**
     * Permutes one embedding tensor of every model into the output vocabulary, as mergekit's
     * {@code PermutedEmbeddings} does.
     *
     * @param keys each model's reference key ({@link MergeSource.Ref#display()}), the base included
     * @param tensors each model's rows ({@code rows_m * hidden}, row-major), in the order of {@code keys}
     * @param baseKey the base model's key, or null
     * @return each model's permuted rows ({@code built.rows() * hidden})
     */
    static float[][] permute(
            Built built,
            List<String> keys,
            List<float[]> tensors,
            int hidden,
            String baseKey,
            Function<String, String> resolve,
            String tensor) {
        Map<String, Integer> vocab = built.vocab();
        int n = vocab.values().stream().mapToInt(i -> i + 1).max().orElse(0);
        int m = keys.size();
        int[][] p = new int[m][];
        for (int i = 0; i < m; i++) {
            int[] q = built.permutation(keys.get(i)).clone();
            int rowsM = tensors.get(i).length / hidden;
            for (int j = 0; j < q.length; j++) {
                if (q[j] >= rowsM) {
                    q[j] = -1;
                }
            }
            p[i] = q;
        }
        // default rows (mergekit's assign_embedding_sources and compute_default_embedding)
        Map<String, TokenSource> cfg = built.spec().tokens();
        Map<Integer, float[]> defaults = new HashMap<>();
        int baseIdx = baseKey == null ? -1 : keys.indexOf(baseKey);
        for (var e : vocab.entrySet()) {
            String tok = e.getKey();
            int id = e.getValue();
            TokenSource ts = cfg.get(tok);
            float[] d = null;
            if (ts != null && ts.kind() != Kind.AUTO) {
                d = new float[hidden];
                if (ts.kind() == Kind.MODEL || ts.kind() == Kind.MODEL_TOKEN) {
                    int mi = keys.indexOf(resolve.apply(ts.model()));
                    if (mi < 0) {
                        throw PaftException.usage("tokenizer.tokens['" + tok + "'].source: model " + ts.model()
                                + " has no input to tensor '" + tensor + "' (it is not among this tensor's models)");
                    }
                    int row;
                    if (ts.kind() == Kind.MODEL) {
                        row = p[mi][id];
                        if (row < 0) {
                            throw PaftException.usage("tokenizer.tokens['" + tok + "'].source: model " + ts.model()
                                    + " has no token '" + tok + "'");
                        }
                    } else if (ts.tokenId() != null) {
                        row = ts.tokenId();
                    } else {
                        Vocab v = built.vocabs().get(resolve.apply(ts.model()));
                        if (v == null) {
                            v = built.vocabs().get(built.baseKey());
                        }
                        Integer r = v.ids().get(ts.token());
                        if (r == null) {
                            throw PaftException.usage("tokenizer.tokens['" + tok + "'].source: token '" + ts.token()
                                    + "' is not in model " + ts.model());
                        }
                        row = r;
                    }
                    int rowsM = tensors.get(mi).length / hidden;
                    if (row < 0 || row >= rowsM) {
                        throw PaftException.usage("tokenizer.tokens['" + tok + "'].source: token id " + row
                                + " is out of range for model " + ts.model() + " (" + rowsM + " rows in '" + tensor
                                + "')");
                    }
                    System.arraycopy(tensors.get(mi), row * hidden, d, 0, hidden);
                }
            } else {
                int present = 0;
                int donor = -1;
                for (int i = 0; i < m; i++) {
                    if (p[i][id] >= 0) {
                        present++;
                        donor = i;
                    }
                }
                if (present == 0) {
                    d = new float[hidden];
                } else if (present == 1) {
                    d = row(tensors.get(donor), p[donor][id], hidden);
                } else if (baseIdx >= 0 && p[baseIdx][id] >= 0) {
                    d = row(tensors.get(baseIdx), p[baseIdx][id], hidden);
                } else {
                    d = new float[hidden];
                    for (int i = 0; i < m; i++) {
                        if (p[i][id] >= 0) {
                            int off = p[i][id] * hidden;
                            for (int h = 0; h < hidden; h++) {
                                d[h] += tensors.get(i)[off + h];
                            }
                        }
                    }
                    for (int h = 0; h < hidden; h++) {
                        d[h] /= present;
                    }
                }
            }
            defaults.put(id, d);
        }
        float[][] out = new float[m][];
        int rows = built.rows();
        for (int i = 0; i < m; i++) {
            float[] o = new float[rows * hidden];
            for (var e : vocab.entrySet()) {
                int id = e.getValue();
                TokenSource ts = cfg.get(e.getKey());
                boolean force = ts != null && ts.force();
                if (p[i][id] >= 0 && !force) {
                    System.arraycopy(tensors.get(i), p[i][id] * hidden, o, id * hidden, hidden);
                } else {
                    System.arraycopy(defaults.get(id), 0, o, id * hidden, hidden);
                }
            }
            if (rows > n) {
                // the padding rows: the mean of the real rows (https://nlp.stanford.edu/~johnhew/vocab-expansion.html)
                float[] mean = new float[hidden];
                for (int r = 0; r < n; r++) {
                    for (int h = 0; h < hidden; h++) {
                        mean[h] += o[r * hidden + h];
                    }
                }
                for (int h = 0; h < hidden; h++) {
                    mean[h] /= n;
                }
                for (int r = n; r < rows; r++) {
                    System.arraycopy(mean, 0, o, r * hidden, hidden);
                }
            }
            out[i] = o;
        }
        return out;
    }

    private static float[] row(float[] t, int r, int hidden) {
        float[] d = new float[hidden];
        System.arraycopy(t, r * hidden, d, 0, hidden);
        return d;
    }

    // ------------------------------------------------------------------ output files

    /** Tokenizer files replaced in the output when the vocabulary is built. */
    static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer.json",
            "tokenizer_config.json",
            "tokenizer.model",
            "special_tokens_map.json",
            "added_tokens.json",
            "vocab.json",
            "merges.txt",
            "chat_template.jinja",
            "chat_template.json");

    /** Writes the tokenizer files into the (temporary) output directory, over what was copied from the base. */
    static void write(Built b, Path dir) throws IOException {
        if (b.spec().buildsVocab()) {
            for (String f : TOKENIZER_FILES) {
                Files.deleteIfExists(dir.resolve(f));
            }
            Json.write(dir.resolve("tokenizer.json"), b.tokenizerJson());
            ObjectNode cfg = b.tokenizerConfig().deepCopy();
            String template = b.chatTemplate() != null
                    ? b.chatTemplate()
                    : TokenizerConfig.read(b.sourceDir()).chatTemplate();
            cfg.remove("chat_template");
            Json.write(dir.resolve("tokenizer_config.json"), cfg);
            for (String f : List.of("special_tokens_map.json", "tokenizer.model")) {
                if (Files.isRegularFile(b.sourceDir().resolve(f))) {
                    Files.copy(b.sourceDir().resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            if (!Files.isRegularFile(dir.resolve("special_tokens_map.json"))) {
                // as transformers' save_pretrained writes it: the special tokens of tokenizer_config.json
                ObjectNode map = Json.MAPPER.createObjectNode();
                for (String k : List.of(
                        "bos_token",
                        "eos_token",
                        "unk_token",
                        "sep_token",
                        "pad_token",
                        "cls_token",
                        "mask_token",
                        "additional_special_tokens")) {
                    if (cfg.hasNonNull(k)) {
                        map.set(k, cfg.get(k));
                    }
                }
                Json.write(dir.resolve("special_tokens_map.json"), map);
            }
            if (template != null) {
                Files.writeString(dir.resolve(TokenizerConfig.JINJA_FILE_NAME), template);
            }
        } else if (b.chatTemplate() != null) {
            // only a chat template: the base's tokenizer files (copied) with the template replaced
            Files.deleteIfExists(dir.resolve("chat_template.json"));
            Path cfgFile = dir.resolve(TokenizerConfig.FILE_NAME);
            if (Files.isRegularFile(cfgFile)
                    && Json.readObject(cfgFile) instanceof ObjectNode o
                    && o.has("chat_template")) {
                o.remove("chat_template");
                Json.write(cfgFile, o);
            }
            Files.writeString(dir.resolve(TokenizerConfig.JINJA_FILE_NAME), b.chatTemplate());
        }
    }

    /** The templates paft ships under the names mergekit gives them. */
    static final List<String> NAMED_TEMPLATES = List.of("alpaca", "chatml", "exaone", "llama3", "mistral");

    /**
     * mergekit's {@code _set_chat_template} (mergekit/merge.py): {@code auto} picks the template most
     * input models share (none: no template is set), a known name its template, anything else must
     * look like Jinja (at least 20 characters and a '{').
     */
    static String chatTemplate(String value, Collection<Path> models, Consumer<String> log) {
        if (value.equals("auto")) {
            Map<String, Integer> counts = new LinkedHashMap<>();
            for (Path p : models) {
                String t = TokenizerConfig.read(p).chatTemplate();
                if (t != null && !t.isBlank()) {
                    counts.merge(t.strip(), 1, Integer::sum);
                }
            }
            String best = null;
            for (var e : counts.entrySet()) {
                if (best == null || e.getValue() > counts.get(best)) {
                    best = e.getKey();
                }
            }
            if (best == null) {
                log.accept("warning: chat_template: auto found no chat template in the input models; none is set");
            }
            return best;
        }
        if (NAMED_TEMPLATES.contains(value)) {
            try (InputStream in = TokenizerMerge.class.getResourceAsStream("chat_templates/" + value + ".jinja")) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException | NullPointerException e) {
                throw new IllegalStateException("missing bundled chat template " + value, e);
            }
        }
        if (value.length() < 20 || !value.contains("{")) {
            throw PaftException.usage("chat_template '" + value + "' is neither a known name (auto, "
                    + String.join(", ", NAMED_TEMPLATES) + ") nor a Jinja template");
        }
        return value;
    }
}
