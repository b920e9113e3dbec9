package dev.paft.attack;

import dev.paft.testutil.Cli;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs the real CLI in-process and keeps what it printed; the shared tiny-run arguments. */
final class Attack {
    static final Path DATA = Path.of("src/test/resources/train/data");

    private Attack() {}

    static Cli.Run cli(String... args) {
        return Cli.paft(args);
    }

    /** A 4-step train-sft of the tiny demo model {@code model} into {@code out}, checkpoint every 2 steps. */
    static String[] sft(Path model, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of(
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                DATA.resolve("sft_train.jsonl").toString(),
                "--output-dir",
                out.toString(),
                "--threads",
                "2",
                "--batch-size",
                "4",
                "--max-steps",
                "4",
                "--lr",
                "1e-2",
                "--lora-r",
                "2",
                "--lora-alpha",
                "4",
                "--max-length",
                "48",
                "--set",
                "training.log_steps=1",
                "--set",
                "training.save_steps=2",
                "--set",
                "training.warmup_steps=1"));
        for (int i = 0; i < extra.length; i++) { // an option given again replaces the default value
            int at = a.indexOf(extra[i]);
            if (at >= 0
                    && !extra[i].equals("--set")
                    && extra[i].startsWith("--")
                    && i + 1 < extra.length
                    && !extra[i + 1].startsWith("--")
                    && at + 1 < a.size()
                    && !a.get(at + 1).startsWith("--")) {
                a.set(at + 1, extra[++i]);
            } else {
                a.add(extra[i]);
            }
        }
        return a.toArray(String[]::new);
    }
}
