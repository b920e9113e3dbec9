package dev.paft.io;

import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The rules for an output directory paft writes (a training run, a merged model): it never
 * contains an input, a replaced output is swapped out only once its successor is complete,
 * nothing paft did not write is deleted, and temporaries left by a killed run are removed by the
 * next run into the same output (only temporaries of names paft writes there). Callers hold the output's {@link OutputLock} while they use
 * these, so every temporary found here is stale.
 *
 * <p>Temporaries are hidden siblings {@code .NAME.tmp-PID} (an output being built) and
 * {@code .NAME.old-PID} (the output being replaced, during the swap), and hidden files or
 * directories {@code .X.tmp} / {@code .X.tmp-PID} inside the output (a file or checkpoint being
 * written).
 */
public final class OutputDirs {
    /** {@code .NAME.tmp}, {@code .NAME.tmp-PID}, {@code .NAME.old-PID}: group 1 is NAME. */
    private static final Pattern INNER_TEMP = Pattern.compile("\\.(.+)\\.(?:tmp|tmp-\\d+|old-\\d+)");

    private OutputDirs() {}

    /** Files a merge writes into its output directory (weights, index, config, tokenizer and side files). */
    public static final Predicate<String> MERGE_FILES = name -> name.endsWith(".safetensors")
            || name.endsWith(".safetensors.index.json")
            || name.equals("config.json")
            || name.equals("merge_config.yaml")
            || name.startsWith("tokenizer")
            || name.equals("special_tokens_map.json")
            || name.equals("added_tokens.json")
            || name.equals("vocab.json")
            || name.equals("merges.txt")
            || name.equals("generation_config.json")
            || name.startsWith("chat_template.");

    /**
     * Exit 2 when {@code out} is, or contains, one of {@code inputs} (label to path; null paths
     * are skipped): writing there could overwrite or delete what the run reads.
     */
    public static void refuseInputs(Path out, Map<String, Path> inputs) {
        Path o = OutputLock.canonical(out);
        for (Map.Entry<String, Path> in : inputs.entrySet()) {
            if (in.getValue() == null) {
                continue;
            }
            Path p = OutputLock.canonical(in.getValue());
            if (p.startsWith(o)) {
                throw PaftException.usage("the output directory " + out + (p.equals(o) ? " is " : " contains ") + "the "
                        + in.getKey() + " (" + in.getValue() + "); choose another output directory");
            }
        }
    }

    /**
     * Removes what a killed or failed earlier run left for {@code out}: the hidden temporary
     * siblings and the hidden temporaries inside it. A swap interrupted between its two renames
     * ({@code out} missing, {@code .NAME.old-PID} present) is rolled back first: the previous
     * output is restored. Returns the paths removed (for a log line).
     */
    public static List<Path> cleanStale(Path out, Predicate<String> owned) {
        Path abs = out.toAbsolutePath().normalize();
        String name = abs.getFileName().toString();
        Path parent = abs.getParent();
        List<Path> removed = new ArrayList<>();
        if (parent == null || !Files.isDirectory(parent)) {
            return removed;
        }
        Pattern sibling = Pattern.compile("\\." + Pattern.quote(name) + "\\.(tmp|old)-\\d+");
        Pattern old = Pattern.compile("\\." + Pattern.quote(name) + "\\.old-\\d+");
        try {
            List<Path> siblings;
            try (Stream<Path> s = Files.list(parent)) {
                siblings = s.filter(
                                p -> sibling.matcher(p.getFileName().toString()).matches())
                        .sorted()
                        .toList();
            }
            for (Path p : siblings) {
                if (!Files.exists(abs)
                        && old.matcher(p.getFileName().toString()).matches()) {
                    Files.move(p, abs, StandardCopyOption.ATOMIC_MOVE); // roll back an interrupted swap
                    continue;
                }
                AtomicFiles.deleteRecursively(p);
                removed.add(p);
            }
            if (Files.isDirectory(abs)) {
                List<Path> inner;
                try (Stream<Path> s = Files.list(abs)) {
                    inner = s.filter(p -> isTempOf(p.getFileName().toString(), owned))
                            .sorted()
                            .toList();
                }
                for (Path p : inner) {
                    AtomicFiles.deleteRecursively(p);
                    removed.add(p);
                }
            }
        } catch (IOException e) {
            throw PaftException.io("clean up temporary files of", abs, e);
        }
        return removed;
    }

    /** Whether {@code name} is paft's temporary for an entry {@code owned} recognises. */
    static boolean isTempOf(String name, Predicate<String> owned) {
        var m = INNER_TEMP.matcher(name);
        return m.matches() && owned.test(m.group(1));
    }

    /** Entries of {@code dir} that {@code owned} does not recognise as paft's, sorted; empty when {@code dir} is missing. */
    public static List<String> foreignEntries(Path dir, Predicate<String> owned) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> !owned.test(n) && !isTempOf(n, owned) && !n.equals(".paft-lock"))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw PaftException.io("list", dir, e);
        }
    }

    /**
     * Exit 2 when replacing {@code dir} would delete files paft did not write: lists up to three.
     */
    public static void requireOnlyOwned(Path dir, Predicate<String> owned, String what) {
        List<String> foreign = foreignEntries(dir, owned);
        if (!foreign.isEmpty()) {
            throw PaftException.usage(dir + " holds files paft did not write ("
                    + String.join(", ", foreign.subList(0, Math.min(3, foreign.size())))
                    + (foreign.size() > 3 ? ", and " + (foreign.size() - 3) + " more" : "") + "); " + what
                    + " only replaces its own output: move them away or choose another output directory");
        }
    }

    /**
     * Replaces {@code target} by the finished directory {@code tmp} so that a kill at any point
     * leaves either the old or the new output complete: the old one is renamed aside
     * ({@code .NAME.old-PID}), the new one renamed into place, and only then is the old one
     * deleted. (A kill between the two renames is rolled back by {@link #cleanStale}.)
     */
    public static void swapIn(Path tmp, Path target) throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        if (!Files.exists(abs)) {
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
            return;
        }
        Path old = abs.resolveSibling(
                "." + abs.getFileName() + ".old-" + ProcessHandle.current().pid());
        AtomicFiles.deleteRecursively(old);
        Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
        try {
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.move(old, abs, StandardCopyOption.ATOMIC_MOVE); // put the old output back
            throw e;
        }
        AtomicFiles.deleteRecursively(old);
    }
}
