package dev.paft.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.testutil.TinyModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * External mode: with PYTORCH_LIBRARY_PATH in the environment paft does not load JavaCPP's libtorch and runs on
 * that one through DJL alone (float32, explicit attention); training.precision bf16 is then a usage error (exit 2)
 * naming what to install, and fp32 training still works. The external libtorch here is the same files (the
 * bootstrap's link folder), loaded by DJL alone, in a fresh JVM.
 */
class ExternalModeTest {
    @TempDir
    Path tmp;

    @Test
    void bf16IsRefusedWithWhatToInstallAndFp32Trains() throws Exception {
        Engines.start("cpu", 2);
        String links = System.getProperty("PYTORCH_LIBRARY_PATH");
        Path model = TinyModels.demo(tmp.resolve("base"));
        Path data = Path.of("src/test/resources/train/data/sft_train.jsonl");
        List<String> base = List.of(
                "train-sft",
                "--model",
                model.toString(),
                "--train",
                data.toString(),
                "--threads",
                "1",
                "--batch-size",
                "2",
                "--max-steps",
                "1",
                "--max-length",
                "32",
                "--set",
                "data.eval=null");
        Result bf16 = run(links, tmp.resolve("bf16"), base, "--set", "training.precision=bf16");
        assertEquals(2, bf16.code, bf16.out);
        assertTrue(
                bf16.out.contains("training.precision: bf16 is unavailable")
                        && bf16.out.contains("mvn -Pcuda")
                        && bf16.out.contains("unset PYTORCH_LIBRARY_PATH"),
                bf16.out);
        Result fp32 = run(links, tmp.resolve("fp32"), base, "--set", "training.precision=auto");
        assertEquals(0, fp32.code, fp32.out);
        assertTrue(fp32.out.contains("through DJL alone"), fp32.out);
        // CUDA on an external CPU libtorch names the variables; training.tf32 true cannot be set in-process there
        Result cuda = run(links, tmp.resolve("cuda"), base, "--device", "cuda");
        assertEquals(2, cuda.code, cuda.out);
        assertTrue(
                cuda.out.contains("--device cuda: the libtorch in PYTORCH_LIBRARY_PATH=" + links
                        + " is a CPU build (PYTORCH_FLAVOR=cpu)"),
                cuda.out);
        Result tf32 = run(links, tmp.resolve("tf32"), base, "--set", "training.tf32=true");
        assertEquals(2, tf32.code, tf32.out);
        assertTrue(
                tf32.out.contains("training.tf32: true cannot be set in-process")
                        && tf32.out.contains("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1"),
                tf32.out);
    }

    record Result(int code, String out) {}

    private static Result run(String libs, Path out, List<String> args, String... extra)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g",
                "--add-opens=java.base/java.nio=ALL-UNNAMED",
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.paft.cli.Paft"));
        cmd.addAll(args);
        cmd.addAll(List.of("--output-dir", out.toString()));
        cmd.addAll(List.of(extra));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("PYTORCH_LIBRARY_PATH", libs);
        pb.environment().put("PYTORCH_VERSION", TorchBootstrap.LIBTORCH_VERSION);
        pb.environment().put("PYTORCH_FLAVOR", "cpu");
        pb.environment().put("OPT_OUT_TRACKING", "true");
        pb.environment().remove("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE");
        Process p = pb.start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new Result(p.exitValue(), text);
    }
}
