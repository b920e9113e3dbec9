package dev.paft.data.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import dev.paft.io.Mappers;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PushbackInputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Where a dataset's records are: the files a path names and the reader for each.
 *
 * <p>A path is one of
 * <ul>
 *   <li>a file: {@code .jsonl}/{@code .ndjson} (JSON Lines), {@code .json} (a JSON array of
 *       records, or JSON Lines), either of them gzipped ({@code .gz}), {@code .parquet},
 *       {@code .csv}/{@code .tsv}, {@code .arrow}/{@code .feather} (Arrow IPC stream or file);
 *   <li>a glob in its last part, as {@code data_files} takes: {@code data/train-*.parquet};
 *   <li>a directory written by {@code datasets}' {@code save_to_disk}: a Dataset
 *       ({@code state.json}, {@code dataset_info.json}, {@code data-0000N-of-0000M.arrow}) or a
 *       DatasetDict ({@code dataset_dict.json} and one such directory a split);
 *   <li>any other directory of data files, e.g. a Hub snapshot ({@code data/train-00000-of-00002.parquet},
 *       {@code train.jsonl}, {@code default/train/0000.parquet}): each file's split is the name
 *       before {@code -NNNNN-of-NNNNN}, else its name up to the first dot, else (for names that are
 *       only digits) its directory's name.
 * </ul>
 * A directory holding several splits is narrowed to one with {@link #select}.
 */
public final class DatasetFiles {
    private static final ObjectMapper JSON = Mappers.json();
    private static final Pattern SHARD = Pattern.compile("^(.+?)-\\d{5}-of-\\d{5}(\\..+)$");
    private static final List<String> METADATA =
            List.of("dataset_info.json", "dataset_infos.json", "state.json", "dataset_dict.json");
    static final String SUPPORTED =
            ".jsonl, .ndjson, .json, .jsonl.gz, .json.gz, .parquet, .arrow, .feather, .csv, .tsv";

    private DatasetFiles() {}

    /** Splits tried, in order, when none is named: for training data and for held-out data. */
    public static final List<String> TRAIN_SPLITS = List.of("train");

    public static final List<String> EVAL_SPLITS = List.of("test", "validation", "valid", "eval", "dev");

    /**
     * {@code path} narrowed to one split when it is a directory of several: the split's own
     * directory (DatasetDict), or a glob of its files. {@code split} null takes the first of
     * {@code preferred} that exists, or the only split; a file or glob is returned unchanged.
     *
     * @param key the setting that names the split, for messages ({@code data.split})
     * @throws PaftException exit 2 when the split is missing or must be chosen, exit 3 for an unreadable directory
     */
    public static Path select(Path path, String split, List<String> preferred, String key) {
        if (!Files.isDirectory(path)) {
            if (split != null && Files.isRegularFile(path)) {
                throw PaftException.usage(
                        key + " is '" + split + "', but " + path + " is a single file, not a dataset with splits");
            }
            return path;
        }
        Map<String, Split> splits = splits(path);
        if (splits.isEmpty()) {
            throw PaftException.badInput(path + ": no dataset files (" + SUPPORTED + ", or a save_to_disk directory)");
        }
        Split chosen = null;
        if (split != null) {
            chosen = find(splits, split);
            if (chosen == null) {
                throw PaftException.usage(path + ": no split '" + split + "' (" + key + "); it has: "
                        + String.join(", ", splits.keySet()));
            }
        } else {
            for (String s : preferred) {
                chosen = chosen != null ? chosen : splits.get(s);
            }
            if (chosen == null && splits.size() == 1) {
                chosen = splits.values().iterator().next();
            }
            if (chosen == null) {
                throw PaftException.usage(path + " holds the splits " + String.join(", ", splits.keySet())
                        + ": choose one with " + key + (key.equals("data.split") ? " (--split)" : ""));
            }
        }
        return chosen.path();
    }

    private static Split find(Map<String, Split> splits, String name) {
        if (splits.containsKey(name)) {
            return splits.get(name);
        }
        List<Split> suffix = splits.entrySet().stream()
                .filter(e -> e.getKey().endsWith("-" + name))
                .map(Map.Entry::getValue)
                .toList();
        return suffix.size() == 1
                ? suffix.get(0)
                : null; // datasets' cache names: <builder>-<split>-NNNNN-of-NNNNN.arrow
    }

    /** The data files a path names, in reading order (shards sorted by name). */
    public static List<Path> files(Path path) {
        if (isGlob(path)) {
            return glob(path);
        }
        if (Files.isRegularFile(path)) {
            return List.of(path);
        }
        if (!Files.isDirectory(path)) {
            throw PaftException.badInput(path + ": no such dataset file or directory");
        }
        Path state = path.resolve("state.json");
        if (Files.isRegularFile(state)) {
            return saveToDiskFiles(path, state);
        }
        Map<String, Split> splits = splits(path);
        if (splits.isEmpty()) {
            throw PaftException.badInput(path + ": no dataset files (" + SUPPORTED + ", or a save_to_disk directory)");
        }
        if (splits.size() > 1) {
            throw PaftException.usage(path + " holds the splits " + String.join(", ", splits.keySet())
                    + ": choose one with data.split / data.eval_split, or point at one split's files");
        }
        return splits.values().iterator().next().files();
    }

    /** One split of a directory: where it is (a directory or a glob) and its files. */
    record Split(Path path, List<Path> files) {}

    /** The splits of a directory, by name (sorted). */
    static Map<String, Split> splits(Path dir) {
        Path dict = dir.resolve("dataset_dict.json");
        if (Files.isRegularFile(dict)) {
            JsonNode d = readJson(dict);
            JsonNode names = d.get("splits");
            if (names == null || !names.isArray()) {
                throw PaftException.badInput(
                        dict + ": expected {\"splits\": [...]} as datasets' save_to_disk writes it");
            }
            Map<String, Split> out = new LinkedHashMap<>();
            for (JsonNode n : names) {
                Path sub = dir.resolve(n.asText());
                if (!Files.isDirectory(sub)) {
                    throw PaftException.badInput(dict + ": split '" + n.asText() + "' has no directory " + sub);
                }
                out.put(n.asText(), new Split(sub, null));
            }
            return out;
        }
        Path state = dir.resolve("state.json");
        if (Files.isRegularFile(state)) {
            JsonNode s = readJson(state);
            String name = s.hasNonNull("_split") ? s.get("_split").asText() : "train";
            return Map.of(name, new Split(dir, saveToDiskFiles(dir, state)));
        }
        // Any other directory: group data files by the split their names say.
        List<Path> all;
        try (Stream<Path> walk = Files.walk(dir, 4)) {
            all = walk.filter(p -> Files.isRegularFile(p) && isDataFile(p) && !hidden(dir, p))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw PaftException.badInput(dir + ": cannot list: " + reason(e), e);
        }
        Map<String, List<Path>> byName = new TreeMap<>();
        for (Path f : all) {
            byName.computeIfAbsent(splitOf(f), k -> new ArrayList<>()).add(f);
        }
        Map<String, Split> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<Path>> e : byName.entrySet()) {
            List<Path> files = e.getValue();
            TreeSet<Path> parents = files.stream().map(Path::getParent).collect(Collectors.toCollection(TreeSet::new));
            if (parents.size() > 1) {
                throw PaftException.badInput(dir + ": split '" + e.getKey() + "' has files in several directories ("
                        + parents.stream()
                                .map(p -> dir.relativize(p).toString())
                                .map(s -> s.isEmpty() ? "." : s)
                                .collect(Collectors.joining(", "))
                        + "), e.g. one subset each: point at one of them");
            }
            out.put(e.getKey(), new Split(where(parents.first(), files), files));
        }
        return out;
    }

    /** The split a file's name says (see the class comment). */
    static String splitOf(Path f) {
        String name = f.getFileName().toString();
        Matcher m = SHARD.matcher(name);
        if (m.matches()) {
            return m.group(1);
        }
        int dot = name.indexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        if (stem.matches("\\d+|part-\\d+.*")
                && f.getParent() != null
                && f.getParent().getFileName() != null) {
            return f.getParent().getFileName().toString();
        }
        return stem;
    }

    /** A directory (when it holds only these data files) or a glob naming exactly these files. */
    private static Path where(Path parent, List<Path> files) {
        long inParent;
        try (Stream<Path> s = Files.list(parent)) {
            inParent = s.filter(p -> Files.isRegularFile(p) && isDataFile(p)).count();
        } catch (IOException e) {
            throw PaftException.badInput(parent + ": cannot list: " + reason(e), e);
        }
        if (inParent == files.size() && files.size() > 1) {
            return parent;
        }
        if (files.size() == 1) {
            return files.get(0);
        }
        String first = files.get(0).getFileName().toString();
        Matcher m = SHARD.matcher(first);
        if (m.matches()
                && files.stream().allMatch(f -> {
                    Matcher n = SHARD.matcher(f.getFileName().toString());
                    return n.matches()
                            && n.group(1).equals(m.group(1))
                            && n.group(2).equals(m.group(2));
                })) {
            return parent.resolve(m.group(1) + "-[0-9]*-of-[0-9]*" + m.group(2));
        }
        return parent.resolve(
                files.stream().map(f -> f.getFileName().toString()).collect(Collectors.joining(",", "{", "}")));
    }

    private static boolean hidden(Path root, Path p) {
        for (Path part : root.relativize(p)) {
            if (part.toString().startsWith(".") || part.toString().startsWith("__")) {
                return true;
            }
        }
        return false;
    }

    static boolean isDataFile(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        if (METADATA.contains(n) || n.equals("package.json") || n.startsWith("tokenizer") || n.equals("config.json")) {
            return false;
        }
        return format(n) != null;
    }

    private static List<Path> saveToDiskFiles(Path dir, Path state) {
        JsonNode s = readJson(state);
        JsonNode files = s.get("_data_files");
        if (files == null || !files.isArray() || files.isEmpty()) {
            throw PaftException.badInput(state + ": no _data_files (expected datasets' save_to_disk state.json)");
        }
        List<Path> out = new ArrayList<>();
        for (JsonNode f : files) {
            JsonNode name = f.get("filename");
            if (name == null || !name.isTextual()) {
                throw PaftException.badInput(state + ": _data_files entry without a filename: " + f);
            }
            Path p = dir.resolve(name.asText());
            if (!Files.isRegularFile(p)) {
                throw PaftException.badInput(state + ": lists " + name.asText() + ", which is not in " + dir);
            }
            out.add(p);
        }
        return out;
    }

    private static JsonNode readJson(Path file) {
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) {
                throw PaftException.badInput(file + ": expected a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw PaftException.badInput(file + ": cannot read: " + reason(e), e);
        }
    }

    static boolean isGlob(Path path) {
        Path name = path.getFileName();
        return name != null && name.toString().matches(".*[*?\\[{].*") && !Files.exists(path);
    }

    private static List<Path> glob(Path path) {
        Path dir = path.getParent() == null ? Path.of(".") : path.getParent();
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + path.getFileName());
        List<Path> out;
        try (Stream<Path> s = Files.list(dir)) {
            out = s.filter(p -> Files.isRegularFile(p) && m.matches(p.getFileName()))
                    .sorted(Comparator.comparing(Path::toString))
                    .toList();
        } catch (NoSuchFileException e) {
            throw PaftException.badInput(dir + ": no such directory (for the pattern " + path.getFileName() + ")");
        } catch (IOException e) {
            throw PaftException.badInput(dir + ": cannot list: " + reason(e), e);
        }
        if (out.isEmpty()) {
            throw PaftException.badInput(path + ": no file matches");
        }
        return out;
    }

    // ---------------------------------------------------------------- formats

    /** The reader a file name asks for, or null: jsonl, json, parquet, csv, tsv, arrow; with ".gz" for gzipped JSON. */
    static String format(String lowerName) {
        boolean gz = lowerName.endsWith(".gz");
        String n = gz ? lowerName.substring(0, lowerName.length() - 3) : lowerName;
        String f = n.endsWith(".jsonl") || n.endsWith(".ndjson")
                ? "jsonl"
                : n.endsWith(".json")
                        ? "json"
                        : n.endsWith(".parquet")
                                ? "parquet"
                                : n.endsWith(".csv")
                                        ? "csv"
                                        : n.endsWith(".tsv")
                                                ? "tsv"
                                                : n.endsWith(".arrow") || n.endsWith(".feather") || n.endsWith(".ipc")
                                                        ? "arrow"
                                                        : null;
        if (gz) {
            return f != null && f.startsWith("json") ? f + ".gz" : null;
        }
        return f;
    }

    /** The records of every file a path names (see {@link #files}), one file after the other. */
    public static RecordSource openAll(Path path) {
        List<Path> files = files(path);
        return new RecordSource() {
            private int next;
            private RecordSource current;

            @Override
            public Row next() {
                while (true) {
                    if (current == null) {
                        if (next == files.size()) {
                            return null;
                        }
                        current = open(files.get(next++));
                    }
                    Row r = current.next();
                    if (r != null) {
                        return r;
                    }
                    current.close();
                    current = null;
                }
            }

            @Override
            public void close() {
                if (current != null) {
                    current.close();
                    current = null;
                }
            }
        };
    }

    /** Opens one data file with the reader its name asks for. */
    public static RecordSource open(Path file) {
        String format = format(file.getFileName().toString().toLowerCase(Locale.ROOT));
        if (format == null) {
            throw PaftException.badInput(file + ": unknown dataset file type (supported: " + SUPPORTED
                    + ", or a directory written by datasets' save_to_disk)");
        }
        if (!Files.isRegularFile(file)) {
            throw PaftException.badInput(file + ": no such dataset file");
        }
        return switch (format) {
            case "parquet" -> new DuckDbSource(file, "read_parquet");
            case "csv", "tsv" -> new DuckDbSource(file, "read_csv");
            case "arrow" -> new ArrowSource(file);
            default -> openJson(file, format.endsWith(".gz"), format.startsWith("jsonl"));
        };
    }

    private static RecordSource openJson(Path file, boolean gz, boolean lines) {
        InputStream in = null;
        try {
            in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
            if (gz) {
                in = new GZIPInputStream(in, 1 << 16);
            }
            if (lines) {
                return new JsonLinesSource(file, in);
            }
            PushbackInputStream p = new PushbackInputStream(in, 4096);
            int first = firstSignificantByte(p);
            return first == '[' ? new JsonArraySource(file, p) : new JsonLinesSource(file, p);
        } catch (IOException e) {
            closeQuietly(in);
            throw PaftException.badInput(file + ": cannot read" + (gz ? " gzip" : "") + ": " + reason(e), e);
        }
    }

    /** Peeks past whitespace and a byte-order mark; the bytes stay in the stream. */
    private static int firstSignificantByte(PushbackInputStream in) throws IOException {
        byte[] buf = new byte[4096];
        int n = in.readNBytes(buf, 0, buf.length);
        int first = -1;
        for (int i = 0; i < n; i++) {
            int b = buf[i] & 0xff;
            boolean bom = i < 3 && (b == 0xEF || b == 0xBB || b == 0xBF);
            if (!bom && !Character.isWhitespace(b)) {
                first = b;
                break;
            }
        }
        in.unread(buf, 0, n);
        return first;
    }

    private static void closeQuietly(InputStream in) {
        if (in != null) {
            try {
                in.close();
            } catch (IOException ignored) {
                // already failing
            }
        }
    }

    /** An I/O error as a short reason ("Not in GZIP format", "Permission denied"). */
    static String reason(IOException e) {
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : e instanceof AccessDeniedException ? "permission denied" : m;
    }

    /** A JSON node's kind for messages: "a string", "an array", ... */
    static String kind(JsonNode n) {
        return switch (n.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase(Locale.ROOT);
        };
    }
}
