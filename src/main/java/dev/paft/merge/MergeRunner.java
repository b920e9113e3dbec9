package dev.paft.merge;

import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import dev.paft.io.DType;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Runs a merge in three stages, after mergekit's plan, executor and writer but streamed:
 * {@link MergePlan} (validate everything, resolve each tensor's inputs and parameters; nothing is
 * written before the plan holds), {@link MergeExecutor} (per tensor: read, merge, write, on
 * overlapping threads under a memory budget) and {@link MergeOutput} (the model directory, built in a
 * temporary sibling and renamed into place when complete).
 */
public final class MergeRunner {
    /** Run options. {@code memoryBudget}: bytes of float buffers in flight (0 = automatic). */
    public record Options(Path out, boolean overwrite, Long seed, long memoryBudget, Consumer<String> log) {
        public Options(Path out, boolean overwrite) {
            this(out, overwrite, null, 0, s -> {});
        }
    }

    /** What a finished merge did. */
    public record Result(Path out, int tensors, int shards, long bytesWritten, double seconds) {}

    private MergeRunner() {}

    /** Validates, plans and runs the merge. */
    public static Result run(MergeSpec spec, Options opt) {
        long t0 = System.nanoTime();
        // 1. cheap checks first: method, output target, dtypes, shard size
        MergeMethod method = MergeMethods.get(spec.method());
        Path out = opt.out().toAbsolutePath().normalize();
        AtomicFiles.checkWritable(out, opt.overwrite());
        DType outDtype = spec.outDtype() != null
                ? DType.parseUser(spec.outDtype(), "out_dtype")
                : spec.dtype() != null ? DType.parseUser(spec.dtype(), "dtype") : null;
        if (spec.outDtype() != null && spec.dtype() != null) {
            DType.parseUser(spec.dtype(), "dtype");
        }
        long shardBytes = parseSize(spec.shardSize() == null ? "5GB" : spec.shardSize());
        MergeSource.Ref baseRef = spec.base() == null ? null : spec.resolveRef(spec.base(), "base_model");
        if (method.needsBase()
                && baseRef == null
                && (spec.slices() == null || spec.slices().slices().stream().anyMatch(x -> x.base() == null))) {
            throw PaftException.usage(method.name() + " needs a base model (base / base_model / --base)");
        }
        // 2. plan: inputs opened and checked, every tensor's parameters resolved
        try (MergePlan plan = spec.slices() != null
                ? SlicePlan.open(spec, method, baseRef, out, outDtype, opt.seed(), opt.log())
                : MergePlan.open(spec, method, baseRef, out, outDtype, opt.seed(), opt.log())) {
            long bytes = plan.outputBytes();
            MergeOutput.checkSpace(out, bytes);
            // 3. stream into the output, then its side files and the rename into place
            MergeOutput output = null;
            boolean ok = false;
            try {
                output = MergeOutput.open(plan, out, shardBytes);
                int shards = MergeExecutor.run(plan, output, opt.memoryBudget(), opt.log(), t0);
                output.commit(plan, opt.overwrite());
                ok = true;
                return new Result(out, plan.jobs().size(), shards, bytes, (System.nanoTime() - t0) / 1e9);
            } catch (UncheckedIOException e) {
                throw MergeOutput.failure(out, e.getCause(), bytes);
            } finally {
                if (!ok && output != null) {
                    output.abort();
                }
            }
        }
    }

    /** Parses a shard size: bytes, or a number with KB/MB/GB (powers of 1000) or KiB/MiB/GiB. */
    public static long parseSize(String s) {
        String t = s.trim().toUpperCase().replace(" ", "");
        long mult = 1;
        String[][] units = {
            {"KIB", "1024"},
            {"MIB", "1048576"},
            {"GIB", "1073741824"},
            {"KB", "1000"},
            {"MB", "1000000"},
            {"GB", "1000000000"},
            {"K", "1000"},
            {"M", "1000000"},
            {"G", "1000000000"},
            {"B", "1"}
        };
        for (String[] u : units) {
            if (t.endsWith(u[0])) {
                mult = Long.parseLong(u[1]);
                t = t.substring(0, t.length() - u[0].length());
                break;
            }
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0)) {
                throw new NumberFormatException();
            }
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw PaftException.usage("shard_size '" + s + "' is not a size (e.g. 5GB, 500MB, 2GiB)");
        }
    }
}
