package dev.paft.train;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.paft.config.PaftConfig;
import dev.paft.data.source.DatasetFiles;
import dev.paft.errors.PaftException;
import dev.paft.io.OutputFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * What the data files of a run held: per data key ({@code data.train}, {@code data.eval}, a {@code data.chat_template}
 * file) every file read, with its size and the SHA-256 of its whole content (docs/GUARANTEES.md, "Resume").
 *
 * <p>Kept in the run's {@code paft_state.json} (each checkpoint's and the finished run's), so {@code --resume} can
 * tell a data file edited or replaced under the same path from the one the checkpoint's shuffle order and sample
 * counts belong to; {@code paft run} puts them into each stage's stamp.
 *
 * <p>The whole file is hashed, not a sample: a sample misses an edit between its windows (one fixed record), and the
 * full hash costs about a thousandth of reading the same data (docs/GUARANTEES.md, "Resume": 1 GB of JSONL hashed in
 * 0.85 s, while reading 10 MB of it into examples takes 32 s). Within one process a file is hashed once while its
 * size, modification time and file key stay the same.
 */
public final class DataFingerprints {
    /** The data keys fingerprinted, in order. */
    public static final List<String> KEYS = List.of("data.train", "data.eval", "data.chat_template");

    private static final Map<String, FilePrint> CACHE = new ConcurrentHashMap<>();

    private DataFingerprints() {}

    /**
     * One file read for a data key.
     *
     * @param file its path relative to the key's location (the file's own name for a single file; the path below the
     *     directory for a dataset directory or a glob's files)
     */
    public record FilePrint(
            @JsonProperty("file") String file,
            @JsonProperty("size") long size,
            @JsonProperty("sha256") String sha256) {}

    /** The files behind each data key of {@code cfg} that names one (empty lists never appear). */
    public static Map<String, List<FilePrint>> of(PaftConfig cfg) {
        Map<String, List<FilePrint>> out = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : roots(cfg).entrySet()) {
            List<Path> files = filesOf(e.getKey(), e.getValue(), cfg);
            List<FilePrint> prints = new ArrayList<>();
            for (Path f : files) {
                prints.add(print(e.getValue(), f));
            }
            if (!prints.isEmpty()) {
                out.put(e.getKey(), prints);
            }
        }
        return out;
    }

    /** The path each data key names (a file, directory or glob), when set; a chat template only when it is a file. */
    public static Map<String, Path> roots(PaftConfig cfg) {
        Map<String, Path> in = new LinkedHashMap<>();
        if (cfg.data().train() != null) {
            in.put("data.train", Path.of(cfg.data().train()));
        }
        if (cfg.data().eval() != null) {
            in.put("data.eval", Path.of(cfg.data().eval()));
        }
        String t = cfg.data().chatTemplate();
        if (t != null && !t.contains("{") && t.length() < 4096) {
            Path p = Path.of(t);
            if (Files.isRegularFile(p)) {
                in.put("data.chat_template", p);
            }
        }
        return in;
    }

    private static List<Path> filesOf(String key, Path root, PaftConfig cfg) {
        return switch (key) {
            case "data.train" ->
                DatasetFiles.files(
                        DatasetFiles.select(root, cfg.data().split(), DatasetFiles.TRAIN_SPLITS, "data.split"));
            case "data.eval" ->
                DatasetFiles.files(
                        DatasetFiles.select(root, cfg.data().evalSplit(), DatasetFiles.EVAL_SPLITS, "data.eval_split"));
            default -> List.of(root);
        };
    }

    /**
     * The files of an eval file or dataset path (a file, glob, or dataset directory; every regular file below a
     * directory that is none of these), for {@code paft run}'s eval stamps; empty when {@code path} does not exist.
     */
    public static List<FilePrint> ofPath(Path path) {
        List<Path> files;
        if (Files.isRegularFile(path)) {
            files = List.of(path);
        } else if (Files.isDirectory(path)) {
            try (Stream<Path> s = Files.walk(path)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            } catch (IOException e) {
                throw PaftException.badInput(path + ": cannot list: " + OutputFiles.reason(e), e);
            }
        } else {
            try {
                files = DatasetFiles.files(path);
            } catch (PaftException e) {
                return List.of(); // missing: the stage that reads it says so
            }
        }
        List<FilePrint> out = new ArrayList<>();
        for (Path f : files) {
            out.add(print(path, f));
        }
        return out;
    }

    /** {@code file}'s print, named relative to {@code root} (the path the config gives). */
    static FilePrint print(Path root, Path file) {
        Path abs = file.toAbsolutePath().normalize();
        Path base = Files.isDirectory(root) ? root : root.toAbsolutePath().getParent();
        base = base == null ? abs.getParent() : base.toAbsolutePath().normalize();
        String name = base != null && abs.startsWith(base) && !abs.equals(base)
                ? base.relativize(abs).toString().replace('\\', '/')
                : abs.toString();
        FilePrint content = hash(abs);
        return new FilePrint(name, content.size(), content.sha256());
    }

    /** Size and SHA-256 of a file's content, streamed (cached in this process while the file is unchanged). */
    static FilePrint hash(Path file) {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            String key =
                    file + "\u0000" + a.size() + "\u0000" + a.lastModifiedTime().toMillis() + "\u0000" + a.fileKey();
            FilePrint cached = CACHE.get(key);
            if (cached != null) {
                return cached;
            }
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long size = 0;
            byte[] buf = new byte[1 << 20];
            try (InputStream in = Files.newInputStream(file)) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                    size += n;
                }
            }
            FilePrint p = new FilePrint(file.toString(), size, HexFormat.of().formatHex(md.digest()));
            CACHE.put(key, p);
            return p;
        } catch (IOException e) {
            throw PaftException.badInput(file + ": cannot read: " + OutputFiles.reason(e), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * What differs between the files a key held ({@code before}) and holds now, one phrase per file, each naming the
     * file as {@code root} (the key's configured path) locates it: its size, or its content at the same size, a file
     * added or removed. Empty when nothing changed.
     */
    public static List<String> changes(List<FilePrint> before, List<FilePrint> now, Path root) {
        Map<String, FilePrint> a = byName(before);
        Map<String, FilePrint> b = byName(now);
        List<String> out = new ArrayList<>();
        for (FilePrint p : a.values()) {
            FilePrint q = b.get(p.file());
            String where = display(root, p.file());
            if (q == null) {
                out.add(where + ": removed");
            } else if (p.size() != q.size()) {
                out.add(where + ": size " + p.size() + " -> " + q.size() + " bytes");
            } else if (!Objects.equals(p.sha256(), q.sha256())) {
                out.add(where + ": content changed (same size, " + p.size() + " bytes; sha256 " + shortHash(p) + " -> "
                        + shortHash(q) + ")");
            }
        }
        for (FilePrint q : b.values()) {
            if (!a.containsKey(q.file())) {
                out.add(display(root, q.file()) + ": added");
            }
        }
        return out;
    }

    /** A file of a key as the user knows it: its configured location joined with the name below it. */
    public static String display(Path root, String file) {
        if (root == null || Path.of(file).isAbsolute()) {
            return file;
        }
        Path base = Files.isDirectory(root) ? root : root.getParent();
        return base == null ? file : base.resolve(file).toString();
    }

    /**
     * The prints as flat stamp entries ({@code "data.train file PATH" -> "size=N sha256=HEX"}), {@code paft run}'s way
     * of making a stage's stamp depend on its data's content.
     */
    public static Map<String, String> stampEntries(String key, Path root, List<FilePrint> prints) {
        Map<String, String> out = new TreeMap<>();
        for (FilePrint p : prints) {
            out.put(key + " file " + display(root, p.file()), "size=" + p.size() + " sha256=" + p.sha256());
        }
        return out;
    }

    private static Map<String, FilePrint> byName(List<FilePrint> prints) {
        Map<String, FilePrint> m = new LinkedHashMap<>();
        if (prints != null) {
            prints.forEach(p -> m.put(p.file(), p));
        }
        return m;
    }

    private static String shortHash(FilePrint p) {
        return p.sha256() == null
                ? "?"
                : p.sha256().substring(0, Math.min(12, p.sha256().length()));
    }
}
