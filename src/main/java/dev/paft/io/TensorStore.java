package dev.paft.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.paft.errors.PaftException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The weights of a Hugging Face model directory, read lazily tensor by tensor.
 *
 * <p>Finds {@code model.safetensors.index.json} (sharded) or the single {@code *.safetensors}
 * file, validates every shard's header and that the index's {@code weight_map} names only tensors
 * its shards hold. A directory with only {@code pytorch_model.bin} is refused with a hint.
 */
public final class TensorStore implements AutoCloseable {
    private static final ObjectMapper JSON = Mappers.json();

    private final Path dir;
    private final List<SafetensorsFile> files = new ArrayList<>();
    private final Map<String, SafetensorsFile> byName = new LinkedHashMap<>();

    private TensorStore(Path dir) {
        this.dir = dir;
    }

    /** Opens the weights of a directory; {@code prefix} is "model" for models, "adapter_model" for PEFT. */
    public static TensorStore open(Path dir, String prefix) {
        if (!Files.isDirectory(dir)) {
            throw PaftException.badInput(dir + ": not a directory");
        }
        TensorStore store = new TensorStore(dir);
        try {
            Path index = dir.resolve(prefix + ".safetensors.index.json");
            Path single = dir.resolve(prefix + ".safetensors");
            if (Files.isRegularFile(index)) {
                store.openIndexed(index);
            } else if (Files.isRegularFile(single)) {
                store.add(SafetensorsFile.open(single));
            } else {
                List<Path> any;
                try (Stream<Path> s = Files.list(dir)) {
                    any = s.filter(p -> p.getFileName().toString().startsWith(prefix)
                                    && p.getFileName().toString().endsWith(".safetensors"))
                            .sorted()
                            .toList();
                }
                if (any.isEmpty()) {
                    boolean bin =
                            Files.exists(dir.resolve(prefix.equals("model") ? "pytorch_model.bin" : prefix + ".bin"));
                    throw PaftException.badInput(dir + ": no " + prefix + ".safetensors"
                            + (bin ? " (only a PyTorch .bin file; convert it to safetensors first)" : ""));
                }
                for (Path p : any) {
                    store.add(SafetensorsFile.open(p));
                }
            }
            return store;
        } catch (IOException e) {
            store.close();
            throw PaftException.badInput(dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    public static TensorStore openModel(Path dir) {
        return open(dir, "model");
    }

    private void openIndexed(Path index) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw PaftException.badInput(index + ": not valid JSON: " + e.getMessage(), e);
        }
        JsonNode wm = root == null ? null : root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw PaftException.badInput(index + ": missing 'weight_map' object");
        }
        Map<String, SafetensorsFile> opened = new LinkedHashMap<>();
        for (var it = wm.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().isTextual()) {
                throw PaftException.badInput(
                        index + ": weight_map." + e.getKey() + " must be a file name, got " + e.getValue());
            }
            String shard = e.getValue().asText();
            if (shard.contains("/")
                    || shard.contains("\\")
                    || shard.equals("..")
                    || shard.equals(".")
                    || shard.isEmpty()) {
                throw PaftException.badInput(
                        index + ": weight_map." + e.getKey() + " names a path outside the directory: " + shard);
            }
            SafetensorsFile f = opened.get(shard);
            if (f == null) {
                Path p = dir.resolve(shard);
                if (!Files.isRegularFile(p)) {
                    throw PaftException.badInput(
                            index + ": shard '" + shard + "' (for tensor '" + e.getKey() + "') does not exist");
                }
                f = SafetensorsFile.open(p);
                opened.put(shard, f);
                files.add(f);
            }
            if (!f.contains(e.getKey())) {
                throw PaftException.badInput(
                        index + ": tensor '" + e.getKey() + "' is mapped to " + shard + " which does not hold it");
            }
            byName.put(e.getKey(), f);
        }
    }

    private void add(SafetensorsFile f) {
        files.add(f);
        for (String name : f.tensors().keySet()) {
            if (byName.put(name, f) != null) {
                throw PaftException.badInput(dir + ": tensor '" + name + "' appears in more than one file");
            }
        }
    }

    public Path dir() {
        return dir;
    }

    /** Tensor names in file order. */
    public List<String> names() {
        return Collections.unmodifiableList(new ArrayList<>(byName.keySet()));
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    public TensorInfo info(String name) {
        return file(name).info(name);
    }

    public ByteBuffer bytes(String name) {
        return file(name).bytes(name);
    }

    public float[] readFloats(String name) {
        return file(name).readFloats(name);
    }

    /** See {@link SafetensorsFile#readFloats(String, float[], float[])}. */
    public void readFloats(String name, float[] dst, float[] minus) {
        file(name).readFloats(name, dst, minus);
    }

    /** See {@link SafetensorsFile#readInto}. */
    public long readInto(String name, long from, long count, WeightStorage storage, ByteBuffer dst) {
        return file(name).readInto(name, from, count, storage, dst);
    }

    public FloatTensor read(String name) {
        return new FloatTensor(info(name).shape(), readFloats(name));
    }

    /** The metadata of the first file (all shards written by paft carry the same). */
    public Map<String, String> metadata() {
        return files.isEmpty() ? Map.of() : files.get(0).metadata();
    }

    /** Total bytes of tensor data. */
    public long totalBytes() {
        long n = 0;
        for (String name : byName.keySet()) {
            n += info(name).byteSize();
        }
        return n;
    }

    private SafetensorsFile file(String name) {
        SafetensorsFile f = byName.get(name);
        if (f == null) {
            throw PaftException.badInput(dir + ": missing tensor '" + name + "'");
        }
        return f;
    }

    @Override
    public void close() {
        for (SafetensorsFile f : files) {
            f.close();
        }
    }
}
