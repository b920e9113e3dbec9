package dev.paft.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.DType;
import dev.paft.io.Json;
import dev.paft.io.ShardedWriter;
import dev.paft.merge.MergePlan.Job;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The last stage of a merge (mergekit's writer, mergekit/io/tensor_writer.py, in paft's terms): the
 * output model directory, built in a temporary sibling and renamed into place when complete. The
 * tensors go to the one shard in flight ({@link ShardedWriter}, {@code __metadata__} with the
 * merge's method, base, inputs, models and parameters); then config.json (torch_dtype), the
 * tokenizer and generation files of the base, and merge_config.yaml. A failed write is one line,
 * exit 3 ({@link #failure}).
 */
final class MergeOutput {
    /** Files copied from the base (tokenizer, generation settings); config.json is rewritten. */
    static final List<String> COPIED = List.of(
            "tokenizer.json",
            "tokenizer_config.json",
            "tokenizer.model",
            "special_tokens_map.json",
            "added_tokens.json",
            "vocab.json",
            "merges.txt",
            "generation_config.json",
            "chat_template.jinja",
            "chat_template.json");

    private final Path out;
    private final Path tmp;
    private final ShardedWriter writer;

    private MergeOutput(Path out, Path tmp, ShardedWriter writer) {
        this.out = out;
        this.tmp = tmp;
        this.writer = writer;
    }

    /** Creates the temporary directory and the shard writer for the plan's tensors. */
    static MergeOutput open(MergePlan plan, Path out, long shardBytes) {
        Path tmp = AtomicFiles.tempDirFor(out);
        try {
            // metadata: method, inputs, parameters (also in merge_config.yaml beside the weights)
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put("merge_method", plan.method().name());
            if (plan.baseRef() != null) {
                meta.put("merge_base", plan.baseRef().display());
            }
            meta.put(
                    "merge_inputs",
                    Json.MAPPER
                            .valueToTree(plan.inputRefs().stream()
                                    .map(MergeSource.Ref::display)
                                    .toList())
                            .toString());
            Map<String, Object> params = new LinkedHashMap<>(plan.spec().parameters());
            if (plan.seed() != null && plan.method().parameters().containsKey("seed")) {
                params.put("seed", plan.seed());
            }
            meta.put("merge_parameters", Json.MAPPER.valueToTree(params).toString());
            List<Object> per = new ArrayList<>();
            for (MergeSpec.Input in : plan.spec().models()) {
                // insertion-ordered: Map.of iterates in an order that changes from run to run
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("model", in.model());
                entry.put("parameters", in.parameters());
                per.add(entry);
            }
            meta.put("merge_models", Json.MAPPER.valueToTree(per).toString());
            if (plan.spec().slices() != null) {
                meta.put(
                        "merge_slices",
                        Json.MAPPER
                                .valueToTree(plan.spec().slices().toYaml(x -> x))
                                .toString());
            }
            return new MergeOutput(
                    out,
                    tmp,
                    new ShardedWriter(
                            tmp, "model", plan.jobs().stream().map(Job::spec).toList(), shardBytes, meta));
        } catch (RuntimeException e) {
            AtomicFiles.deleteQuietly(tmp);
            throw e;
        }
    }

    /** Writes a tensor's bytes as they are (pass-through), in plan order. */
    void write(String name, ByteBuffer data) {
        writer.write(name, data);
    }

    /** Writes a merged tensor in its output dtype, in plan order; false when it holds NaN or Inf. */
    boolean writeFloats(String name, float[] values) {
        return writer.writeFloats(name, values);
    }

    /** Completes the shards (final fsync; the index when sharded); returns the shard count. */
    int closeShards() {
        writer.close();
        return writer.shardCount();
    }

    /** Writes the side files and moves the finished directory into place. */
    void commit(MergePlan plan, boolean overwrite) {
        writeSideFiles(plan);
        AtomicFiles.commitDir(tmp, out, overwrite);
    }

    /** Removes everything written (after the executor's threads have stopped). */
    void abort() {
        writer.abort();
        AtomicFiles.deleteQuietly(tmp);
    }

    private void writeSideFiles(MergePlan plan) {
        MergeSpec spec = plan.spec();
        MergeMethod method = plan.method();
        MergeSource.Ref baseRef = plan.baseRef();
        List<Job> jobs = plan.jobs();
        Long seedOverride = plan.seed();
        Path from = baseRef != null ? baseRef.model() : plan.sources().get(0).dir();
        try {
            JsonNode cfg = Json.readObject(from.resolve("config.json"));
            if (cfg instanceof ObjectNode o) {
                DType dt = jobs.stream()
                        .filter(j -> !j.passthrough())
                        .map(j -> j.spec().dtype())
                        .findFirst()
                        .orElse(null);
                if (dt != null
                        && jobs.stream()
                                .filter(j -> !j.passthrough())
                                .allMatch(j -> j.spec().dtype() == dt)) {
                    o.put("torch_dtype", dt.torchName());
                }
                if (plan.layers() >= 0) {
                    o.put(
                            "num_hidden_layers",
                            plan.layers()); // slices change the layer count (mergekit's _model_out_config)
                }
                if (plan.tokenizer() != null && plan.tokenizer().spec().buildsVocab()) {
                    o.put("vocab_size", plan.tokenizer().rows()); // mergekit's _update_config_vocab, padded
                }
            }
            Json.write(tmp.resolve("config.json"), cfg);
            for (String f : COPIED) {
                Path src = from.resolve(f);
                if (Files.isRegularFile(src)) {
                    Files.copy(src, tmp.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            if (plan.tokenizer() != null) {
                TokenizerMerge.write(plan.tokenizer(), tmp);
            }
            List<String> models = new ArrayList<>();
            for (MergeSpec.Input in : spec.models()) {
                models.add(spec.resolveRef(in.model(), "models").display());
            }
            boolean random = method.parameters().containsKey("seed");
            Object given = spec.parameters().get("seed");
            Long seed = !random
                    ? null
                    : seedOverride != null
                            ? seedOverride
                            : given == null
                                    ? Long.valueOf(42)
                                    : given instanceof Number n ? Long.valueOf(n.longValue()) : null;
            Files.writeString(
                    tmp.resolve("merge_config.yaml"),
                    spec.toMergekitYaml(
                            models,
                            baseRef == null ? null : baseRef.display(),
                            random,
                            random && method.rescaleTrueIsDensity(),
                            seed));
        } catch (IOException e) {
            throw failure(out, e, plan.outputBytes());
        } catch (PaftException e) {
            if (e.getCause() instanceof IOException io) { // Json.write
                throw failure(out, io, plan.outputBytes());
            }
            throw e;
        }
    }

    /**
     * An output write that failed (exit 3, one line): the output location the user chose cannot
     * take the merged model. Exit 3 rather than 1 because the fault is in a path the user gave and
     * can act on (free space, another {@code --out}), as for an output directory that cannot be
     * created; exit 1 stays for paft's own defects. A full disk says "no space left on" the file
     * system, with what the merge needs.
     */
    static PaftException failure(Path out, Throwable e, long bytes) {
        String msg = e == null ? "unknown error" : String.valueOf(e.getMessage());
        for (Throwable c = e; c != null; c = c.getCause()) {
            String m = String.valueOf(c.getMessage());
            if (m.contains("No space left on device") || m.contains("Disk quota exceeded")) {
                return PaftException.badInput(
                        "no space left on " + fileSystemOf(out) + " while writing " + out + " (the merged model needs "
                                + human(bytes) + "); free space or choose another --out; nothing was written",
                        e);
            }
            msg = m;
        }
        return PaftException.badInput(
                "cannot write the merged model to " + out + ": " + msg + "; nothing was written", e);
    }

    /** Fails early (exit 3) when the output's file system has less usable space than the merged tensors need. */
    static void checkSpace(Path out, long need) {
        Path p = out.getParent();
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        if (p == null) {
            return;
        }
        try {
            long free = Files.getFileStore(p).getUsableSpace();
            if (free < need) {
                throw PaftException.badInput("no space left on " + fileSystemOf(out) + " for " + out
                        + ": the merged model needs " + human(need) + ", " + human(free)
                        + " free; free space or choose another --out; nothing was written");
            }
        } catch (IOException ignored) {
            // no usable-space figure: the writes report a full disk
        }
    }

    private static String fileSystemOf(Path out) {
        Path p = out.toAbsolutePath().getParent();
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        try {
            return p == null ? String.valueOf(out) : "the file system of " + p + " (" + Files.getFileStore(p) + ")";
        } catch (IOException e) {
            return String.valueOf(p);
        }
    }

    private static String human(long bytes) {
        return bytes >= 1_000_000_000L
                ? String.format("%.1f GB", bytes / 1e9)
                : bytes >= 1_000_000L ? String.format("%.1f MB", bytes / 1e6) : String.format("%.1f KB", bytes / 1e3);
    }
}
