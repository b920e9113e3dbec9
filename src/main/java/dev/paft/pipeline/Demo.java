package dev.paft.pipeline;

import dev.paft.errors.PaftException;
import dev.paft.io.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The bundled demo: a tiny pretrained Llama (made by scripts/demo/pretrain_base.py), its
 * word-level tokenizer, SFT / preference / evaluation data (scripts/demo/make_demo_data.py) and the
 * run config {@code paft-demo.yaml}, extracted from the jar into a run directory.
 */
public final class Demo {
    static final String ROOT = "/dev/paft/demo/";
    static final List<String> ASSETS = List.of(
            "model/config.json",
            "model/generation_config.json",
            "model/model.safetensors",
            "model/tokenizer.json",
            "model/tokenizer_config.json",
            "data/sft_train.jsonl",
            "data/sft_test.jsonl",
            "data/pref_train.jsonl",
            "data/pref_test.jsonl",
            "data/task_mc.jsonl",
            "data/pref_mc.jsonl");

    private Demo() {}

    /** Extracts the assets into {@code out/assets} (skipping files already there) and writes {@code out/paft-demo.yaml}. */
    public static Path prepare(Path out, int sftSteps, int dpoSteps) {
        Path assets = out.resolve("assets");
        try {
            for (String a : ASSETS) {
                Path target = assets.resolve(a);
                if (Files.isRegularFile(target)) {
                    continue;
                }
                Files.createDirectories(target.getParent());
                try (InputStream in = Demo.class.getResourceAsStream(ROOT + a)) {
                    if (in == null) {
                        throw new PaftException(PaftException.INTERNAL, "demo asset " + a + " is missing from the jar");
                    }
                    Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                }
            }
            String yaml;
            try (InputStream in = Demo.class.getResourceAsStream(ROOT + "paft-demo.yaml")) {
                yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            yaml = yaml.replace("${ASSETS}", assets.toAbsolutePath().toString())
                    .replace("${OUT}", out.toAbsolutePath().toString())
                    .replace("${SFT_STEPS}", Integer.toString(sftSteps))
                    .replace("${DPO_STEPS}", Integer.toString(dpoSteps));
            Path cfg = out.resolve("paft-demo.yaml");
            AtomicFiles.writeString(cfg, yaml);
            return cfg;
        } catch (IOException e) {
            throw PaftException.io("extract the demo into", out, e);
        }
    }
}
