package dev.paft.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a Hugging Face weight set into a directory, sharded by bytes, one shard in flight.
 *
 * <p>Shards are planned from the specs up front (greedy in spec order, a new shard whenever the
 * next tensor would pass {@code maxShardBytes}). One shard is written as {@code prefix.safetensors};
 * several as {@code prefix-0000k-of-0000n.safetensors} plus {@code prefix.safetensors.index.json}
 * ({@code metadata.total_size}, {@code weight_map}), as transformers writes them.
 */
public final class ShardedWriter implements AutoCloseable {
    private static final ObjectMapper JSON = Mappers.jsonPretty();

    private final Path dir;
    private final String prefix;
    private final List<List<TensorSpec>> shards;
    private final Map<String, String> metadata;
    private int shard = -1;
    private SafetensorsWriter current;
    private final Map<String, String> weightMap = new LinkedHashMap<>();
    private long totalSize;

    public ShardedWriter(
            Path dir, String prefix, List<TensorSpec> specs, long maxShardBytes, Map<String, String> metadata) {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be > 0, got " + maxShardBytes);
        }
        this.dir = dir;
        this.prefix = prefix;
        this.shards = plan(specs, maxShardBytes);
        this.metadata = metadata;
        for (int i = 0; i < shards.size(); i++) {
            for (TensorSpec s : shards.get(i)) {
                weightMap.put(s.name(), fileName(i));
                totalSize += s.byteSize();
            }
        }
    }

    static List<List<TensorSpec>> plan(List<TensorSpec> specs, long maxShardBytes) {
        List<List<TensorSpec>> out = new ArrayList<>();
        List<TensorSpec> cur = new ArrayList<>();
        long bytes = 0;
        for (TensorSpec s : specs) {
            if (!cur.isEmpty() && bytes + s.byteSize() > maxShardBytes) {
                out.add(cur);
                cur = new ArrayList<>();
                bytes = 0;
            }
            cur.add(s);
            bytes += s.byteSize();
        }
        if (!cur.isEmpty() || out.isEmpty()) {
            out.add(cur);
        }
        return out;
    }

    public int shardCount() {
        return shards.size();
    }

    private String fileName(int i) {
        return shards.size() == 1
                ? prefix + ".safetensors"
                : String.format("%s-%05d-of-%05d.safetensors", prefix, i + 1, shards.size());
    }

    private SafetensorsWriter writerFor(String name) {
        while (current == null || current.nextSpec() == null) {
            if (current != null) {
                current.close();
            }
            shard++;
            if (shard >= shards.size()) {
                throw new IllegalStateException("tensor '" + name + "' is beyond the planned tensors");
            }
            current = new SafetensorsWriter(dir.resolve(fileName(shard)), shards.get(shard), metadata);
        }
        return current;
    }

    public void write(String name, ByteBuffer data) {
        writerFor(name).write(name, data);
    }

    public boolean writeFloats(String name, float[] values) {
        return writerFor(name).writeFloats(name, values);
    }

    public void abort() {
        if (current != null) {
            current.abort();
        }
    }

    @Override
    public void close() {
        if (current == null && shards.size() == 1 && shards.get(0).isEmpty()) {
            // no tensors at all: one valid file with an empty header
            new SafetensorsWriter(dir.resolve(fileName(0)), List.of(), metadata).close();
            shard = 0;
            return;
        }
        if (current == null) {
            throw new IllegalStateException(dir + ": no tensors were written");
        }
        if (current != null) {
            current.close();
        }
        if (shard < shards.size() - 1) {
            throw new IllegalStateException(dir + ": only " + (shard + 1) + " of " + shards.size() + " shards written");
        }
        if (shards.size() > 1) {
            ObjectNode index = JSON.createObjectNode();
            index.putObject("metadata").put("total_size", totalSize);
            ObjectNode wm = index.putObject("weight_map");
            weightMap.forEach(wm::put);
            // transformers: json.dumps(index, indent=2, sort_keys=True) + "\n"
            Json.writePython(dir.resolve(prefix + ".safetensors.index.json"), index, true, true);
        }
    }
}
