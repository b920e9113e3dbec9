package dev.paft.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.data.SftExample;
import dev.paft.data.TextTokenizer;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.Mappers;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * lm-eval-harness {@code loglikelihood}: {@code log p(continuation | context) = sum_t log p(c_t | context, c_<t)},
 * summed over the continuation's tokens, with its mean per token and token count.
 *
 * <p>Text pairs are tokenized as lm-eval's {@code _encode_pair}: trailing whitespace of the context
 * moves to the front of the continuation, the whole string {@code context + continuation} is encoded
 * (with BOS when the tokenizer adds it), and the continuation tokens are those after the context's own
 * encoding, so they are exactly the tokens the model sees. An empty context is replaced by BOS (EOS
 * when there is none), as lm-eval does, so the first continuation token has something to condition on.
 * Where a token merges across the boundary (SentencePiece {@code "a" + "b"} to {@code "ab"}), the split is
 * after the longest common prefix of the two encodings, so the merged token is scored as continuation.
 *
 * <p>Aggregate: {@code NLL = -sum(log p) / tokens} over all records (token-weighted), {@code ppl = exp(NLL)}.
 */
public final class LogLikelihood {
    private static final ObjectMapper JSON = Mappers.json();

    private LogLikelihood() {}

    /** Context and continuation token ids; the continuation is what gets scored. */
    public record Request(int[] context, int[] continuation) {}

    /**
     * Per-record scores (input order) and their token-weighted aggregate.
     *
     * @param meanNll {@code -sum(log p) / tokens}, NaN when no token was scored
     * @param perplexity {@code exp(meanNll)}
     */
    public record Result(List<TokenScorer.Score> records, long tokens, double meanNll, double perplexity) {
        /** Aggregates per-record scores. */
        public static Result of(List<TokenScorer.Score> records) {
            double sum = 0;
            long tokens = 0;
            for (TokenScorer.Score s : records) {
                sum += s.sum();
                tokens += s.tokens();
            }
            double nll = tokens == 0 ? Double.NaN : -sum / tokens;
            return new Result(List.copyOf(records), tokens, nll, Math.exp(nll));
        }
    }

    /** lm-eval's {@code _encode_pair} (see the class comment). */
    public static Request encode(TextTokenizer tok, String context, String continuation) {
        String ctx = context;
        String cont = continuation;
        int n = ctx.length() - ctx.stripTrailing().length();
        if (n > 0) {
            cont = ctx.substring(ctx.length() - n) + cont;
            ctx = ctx.substring(0, ctx.length() - n);
        }
        int[] whole = tok.encodeStart(ctx + cont);
        int[] ctxIds = tok.encodeStart(ctx);
        int split = 0; // = ctxIds.length unless a token merges across the boundary
        while (split < Math.min(ctxIds.length, whole.length) && ctxIds[split] == whole[split]) {
            split++;
        }
        return new Request(Arrays.copyOf(whole, split), Arrays.copyOfRange(whole, split, whole.length));
    }

    /**
     * Reads {@code {"prompt", "completion"}} text records or pre-tokenized
     * {@code {"prompt_ids", "completion_ids"}} (used as given) from JSONL.
     */
    public static List<Request> read(Path file, TextTokenizer tok, int vocabSize) {
        return EvalJsonl.read(file, r -> parse(r, tok, vocabSize));
    }

    static Request parse(JsonNode r, TextTokenizer tok, int vocabSize) {
        if (r.has("prompt_ids") || r.has("completion_ids")) {
            int[] c = EvalJsonl.ids(r, "completion_ids", vocabSize);
            int[] p = EvalJsonl.ids(r, "prompt_ids", vocabSize);
            if (c.length == 0) {
                throw new EvalJsonl.BadRecord("'completion_ids' is empty: nothing to score");
            }
            return new Request(p, c);
        }
        if (r.has("prompt") || r.has("completion")) {
            Request q = encode(tok, EvalJsonl.string(r, "prompt"), EvalJsonl.string(r, "completion"));
            if (q.continuation().length == 0) {
                throw new EvalJsonl.BadRecord("'completion' encodes to no tokens: nothing to score");
            }
            return q;
        }
        throw new EvalJsonl.BadRecord("expected 'prompt' and 'completion' (text) or 'prompt_ids' and 'completion_ids'");
    }

    /** The labelled row of a request: context labels ignored, left-truncated to {@code maxLength}. */
    static TokenScorer.Row row(Request q, TextTokenizer tok, int maxLength) {
        int[] ctx = q.context();
        if (ctx.length == 0) {
            ctx = new int[] {tok.bosId() >= 0 ? tok.bosId() : tok.requireEos()};
        }
        int[] ids = Arrays.copyOf(ctx, ctx.length + q.continuation().length);
        System.arraycopy(q.continuation(), 0, ids, ctx.length, q.continuation().length);
        int[] labels = ids.clone();
        Arrays.fill(labels, 0, ctx.length, SftExample.IGNORE);
        if (ids.length > maxLength) {
            ids = Arrays.copyOfRange(ids, ids.length - maxLength, ids.length);
            labels = Arrays.copyOfRange(labels, labels.length - maxLength, labels.length);
        }
        return new TokenScorer.Row(ids, labels);
    }

    /** Per-request scores, input order. */
    public static List<TokenScorer.Score> score(EvalModel m, List<Request> requests, EvalOptions opts) {
        List<TokenScorer.Row> rows = new ArrayList<>(requests.size());
        for (Request q : requests) {
            rows.add(row(q, m.tokenizer(), opts.maxLength()));
        }
        return TokenScorer.score(
                m.model(), m.adapter(), rows, opts.batchSize(), m.tokenizer().padId());
    }

    /** Scores and aggregates requests. */
    public static Result evaluate(EvalModel m, List<Request> requests, EvalOptions opts) {
        return Result.of(score(m, requests, opts));
    }

    /** Reads, scores and aggregates a JSONL file. */
    public static Result evaluate(EvalModel m, Path file, EvalOptions opts) {
        List<Request> requests = read(file, m.tokenizer(), m.model().config().vocabSize());
        return TokenScorer.naming(file, () -> evaluate(m, requests, opts));
    }

    /** Writes one {@code {"sum_logprob", "mean_logprob", "tokens"}} line per record, atomically. */
    public static void writeJsonl(Path out, Result result) {
        StringBuilder sb = new StringBuilder();
        for (TokenScorer.Score s : result.records()) {
            ObjectNode o = JSON.createObjectNode();
            o.put("sum_logprob", s.sum());
            o.put("mean_logprob", s.mean());
            o.put("tokens", s.tokens());
            sb.append(o).append('\n');
        }
        try {
            AtomicFiles.writeString(out, sb.toString());
        } catch (IOException e) {
            throw PaftException.io("write", out, e);
        }
    }
}
