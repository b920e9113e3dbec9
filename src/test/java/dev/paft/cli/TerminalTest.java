package dev.paft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.paft.testutil.TinyModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The progress bar and the lines printed around it, as a terminal shows them (item: eval lines under the bar). */
class TerminalTest {
    @TempDir
    static Path tmp;

    @Test
    void linesGoAboveTheStatusLineWhichNeverWraps() {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        Terminal t = new Terminal(raw, raw, 40);
        PrintStream out = new PrintStream(t.router(false), true, StandardCharsets.UTF_8);
        out.println("before");
        t.status("train 10% [==        ] 1/10 loss 1.2345 lr 1e-3 100 tok/s 00:01<00:09");
        out.println("train eval @ step 1: loss=1.0000 accuracy=0.5000 margins=0.1234");
        out.print("partial ");
        out.println("line");
        t.status("train 20% [====      ] 2/10");
        t.endStatus(true);
        out.println("after");
        List<String> lines = new ScreenEmulator(40)
                .feed(raw.toString(StandardCharsets.UTF_8))
                .lines();
        assertEquals(
                List.of(
                        "before",
                        "train eval @ step 1: loss=1.0000 accuracy=0.5000 margins=0.1234",
                        "partial line",
                        "train 20% [====      ] 2/10",
                        "after",
                        ""),
                lines,
                String.join("\n", lines));
        // the first status was cut to 39 columns instead of wrapping
        assertTrue(raw.toString(StandardCharsets.UTF_8).contains("\rtrain 10% [==        ] 1/10 loss 1.234~\033[K"));
    }

    /** train-sft in a real pseudo-terminal ({@code script}) at 120 columns: every eval line is on screen intact. */
    @Test
    void evalLinesSurviveTheBarInAPseudoTerminal() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "util-linux script is not installed");
        Path model = TinyModels.demo(tmp.resolve("base"));
        Path data = Path.of("src/test/resources/train/data");
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.paft.cli.Paft",
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                data.resolve("sft_train.jsonl").toString(),
                "--eval",
                data.resolve("sft_eval.jsonl").toString(),
                "--output-dir",
                tmp.resolve("out").toString(),
                "--threads",
                "2",
                "--batch-size",
                "4",
                "--max-steps",
                "4",
                "--lora-r",
                "4",
                "--max-length",
                "64",
                "--set",
                "training.eval_steps=2",
                "--set",
                "training.save_steps=100",
                "--set",
                "training.log_steps=1"));
        String line = cmd.stream().map(a -> "'" + a + "'").collect(Collectors.joining(" "));
        Process p = new ProcessBuilder(
                        "/usr/bin/script", "-qec", "stty cols 120 rows 40; unset COLUMNS; exec " + line, "/dev/null")
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.PIPE)
                .start();
        p.getOutputStream().close();
        byte[] bytes = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        String raw = new String(bytes, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), raw);
        List<String> screen = new ScreenEmulator(120).feed(raw).lines();
        String text = String.join("\n", screen);
        for (int step : new int[] {2, 4}) {
            String eval = screen.stream()
                    .filter(l -> l.startsWith("train-sft eval @ step " + step + ":"))
                    .findFirst()
                    .orElse("");
            assertTrue(
                    eval.contains(" loss=") && eval.matches(".* samples_per_second=[0-9.]+$"),
                    "eval @ step " + step + " not intact:\n" + text);
        }
        assertTrue(
                screen.stream().anyMatch(l -> l.matches("train-sft 100% \\[=+\\] 4/4 loss .*")),
                "final bar kept:\n" + text);
        assertTrue(screen.stream().anyMatch(l -> l.startsWith("train-sft: done, 4 steps")), text);
        assertFalse(text.contains("CudaUtils"), "CUDA probe noise on a CPU run:\n" + text);
        for (String row : new ScreenEmulator(120).feed(raw).rows()) {
            assertTrue(row.length() <= 120, row);
        }
    }
}
