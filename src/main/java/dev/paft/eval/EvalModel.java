package dev.paft.eval;

import ai.djl.Device;
import dev.paft.data.TextTokenizer;
import dev.paft.data.template.ChatTemplate;
import dev.paft.errors.PaftException;
import dev.paft.io.WeightStorage;
import dev.paft.lora.LoraAdapter;
import dev.paft.model.LlamaModel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The thing evaluated: a model, an optional LoRA adapter applied unmerged, and the tokenizer that
 * turns text into the model's ids. Either opened from directories ({@link #open}, owns and closes
 * them) or wrapping objects the caller keeps ({@link #of}, closes nothing).
 */
public final class EvalModel implements AutoCloseable {
    private final LlamaModel model;
    private final LoraAdapter adapter;
    private final TextTokenizer tokenizer;
    private final Path dir;
    private final boolean owned;

    private EvalModel(LlamaModel model, LoraAdapter adapter, TextTokenizer tokenizer, Path dir, boolean owned) {
        this.model = model;
        this.adapter = adapter;
        this.tokenizer = tokenizer;
        this.dir = dir;
        this.owned = owned;
    }

    /**
     * Wraps a loaded model (adapter may be null); the caller keeps ownership of all three.
     *
     * @param dir where the tokenizer and chat template come from (the model or tokenizer directory)
     */
    public static EvalModel of(LlamaModel model, LoraAdapter adapter, TextTokenizer tokenizer, Path dir) {
        return new EvalModel(model, adapter, tokenizer, dir, false);
    }

    /**
     * Loads a HF model directory, a PEFT adapter directory (or null) and the tokenizer: from
     * {@code tokenizerDir} when given, else the model directory, else the adapter directory.
     * Missing directories are bad input (exit 3).
     */
    public static EvalModel open(Path modelDir, Path adapterDir, Path tokenizerDir, Device device, boolean f16) {
        return open(modelDir, adapterDir, tokenizerDir, device, f16 ? WeightStorage.F16 : WeightStorage.F32);
    }

    /** As above, with the frozen weights held as {@code storage} ({@code model.dtype}). */
    public static EvalModel open(
            Path modelDir, Path adapterDir, Path tokenizerDir, Device device, WeightStorage storage) {
        requireDir(modelDir, "model");
        if (adapterDir != null) {
            requireDir(adapterDir, "adapter");
        }
        Path tokDir = tokenizerDir != null
                ? tokenizerDir
                : Files.isRegularFile(modelDir.resolve("tokenizer.json"))
                                || adapterDir == null
                                || !Files.isRegularFile(adapterDir.resolve("tokenizer.json"))
                        ? modelDir
                        : adapterDir;
        TextTokenizer tok = TextTokenizer.open(tokDir);
        LlamaModel m = null;
        try {
            m = LlamaModel.load(modelDir, device, storage);
            tok.limitIds(m.config().vocabSize());
            LoraAdapter a = adapterDir == null ? null : m.loadAdapter(adapterDir);
            return new EvalModel(m, a, tok, tokDir, true);
        } catch (RuntimeException e) {
            if (m != null) {
                m.close();
            }
            tok.close();
            throw e;
        }
    }

    static void requireDir(Path dir, String what) {
        if (!Files.isDirectory(dir)) {
            throw PaftException.badInput(dir + ": no such " + what + " directory");
        }
    }

    public LlamaModel model() {
        return model;
    }

    /** The adapter, or null for the bare model. */
    public LoraAdapter adapter() {
        return adapter;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    /** The directory the tokenizer (and chat template) came from. */
    public Path tokenizerDir() {
        return dir;
    }

    /** The chat template of the tokenizer directory or {@code override}; null when there is none. */
    public ChatTemplate chatTemplate(String override) {
        return ChatTemplate.loadIfPresent(dir, override);
    }

    @Override
    public void close() {
        if (owned) {
            if (adapter != null) {
                adapter.close();
            }
            model.close();
            tokenizer.close();
        }
    }
}
