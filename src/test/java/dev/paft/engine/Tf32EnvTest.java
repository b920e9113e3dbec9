package dev.paft.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.testutil.TinyModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code training.tf32: false} in a fresh JVM whose environment sets TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 (what
 * scripts/paft exports, and which starts libtorch 2.7.1 with TF32 on): libtorch's state read back after the switch
 * says exact float32 (else the run stops with exit 2), the run says it overrode the variable, and it trains.
 */
class Tf32EnvTest {
    @TempDir
    Path tmp;

    @Test
    void falseWinsOverTheLaunchersOverride() throws Exception {
        Path model = TinyModels.demo(tmp.resolve("base"));
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g",
                "--add-opens=java.base/java.nio=ALL-UNNAMED",
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.paft.cli.Paft",
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                "src/test/resources/train/data/sft_train.jsonl",
                "--threads",
                "1",
                "--batch-size",
                "2",
                "--max-steps",
                "1",
                "--max-length",
                "32",
                "--set",
                "data.eval=null",
                "--set",
                "training.tf32=false",
                "--output-dir",
                tmp.resolve("out").toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("PYTORCH_LIBRARY_PATH");
        pb.environment().put("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "1");
        pb.environment().put("OPT_OUT_TRACKING", "true");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(
                out.contains("training.tf32: false overrides TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 from the environment"),
                out);
    }
}
