package dev.paft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The launcher, CI script, and that {@code paft --help} never starts the PyTorch engine. */
class LauncherTest {
    static final Path ROOT = Path.of(System.getProperty("user.dir"));

    @Test
    void ciRunsTheReadmeTestCommand() throws IOException {
        Path ci = ROOT.resolve(".ci/run");
        assertTrue(Files.isExecutable(ci), ".ci/run is executable");
        String text = Files.readString(ci);
        assertTrue(text.startsWith("#!/usr/bin/env bash"), text);
        assertTrue(text.contains("set -euo pipefail"), text);
        assertTrue(text.lines().anyMatch(l -> l.strip().equals("mvn -B verify")), text);
        assertTrue(
                Files.readString(ROOT.resolve("README.md")).contains("mvn -B verify"), "README names the same command");
    }

    @Test
    void launcherBuildsTheJarWhenMissingAndRunsOffline() throws IOException {
        Path launcher = ROOT.resolve("scripts/paft");
        assertTrue(Files.isExecutable(launcher));
        String own = Files.readString(launcher);
        assertTrue(own.contains("source \"$(dirname \"${BASH_SOURCE[0]}\")/lib/env.sh\""), own);
        assertTrue(
                own.indexOf("paft_env") >= 0 && own.indexOf("paft_env") < own.indexOf("exec java"),
                "the environment is set before java starts");
        String text = own + Files.readString(ROOT.resolve("scripts/lib/env.sh")); // the shared library
        assertTrue(text.contains("target/paft.jar"), text);
        assertTrue(text.contains("if [ ! -f \"$jar\" ]"), "builds when the jar is missing");
        assertTrue(text.contains("mvn -B -q -DskipTests package"), text);
        assertTrue(text.contains("-Dai.djl.offline=true"), text);
        assertTrue(text.contains("OPT_OUT_TRACKING=true"), text);
        assertTrue(text.contains("exec java"), text);
    }

    /** The launcher's TF32 switch (scripts/lib/env.sh's paft_env, run by bash): on unless PAFT_TF32=0. */
    @Test
    void launcherTurnsTf32OnUnlessTheUserOptsOut() throws Exception {
        String block = "source '" + ROOT.resolve("scripts/lib/env.sh") + "'\npaft_env";
        assertEquals("1", tf32(block, null, null));
        assertEquals("1", tf32(block, "1", null));
        assertEquals("unset", tf32(block, "0", null));
        assertEquals("unset", tf32(block, "0", "1"), "PAFT_TF32=0 wins over an inherited override");
    }

    /**
     * run-all.sh's setup check: OpenBLAS counts as installed when libblas.so.3 resolves into it (Debian's
     * alternatives link, as libopenblas0-pthread installs it), and not when it resolves to the reference BLAS.
     * The old check grepped ldconfig's cache, which names neither, and warned on a machine that had it.
     */
    @Test
    void openBlasCheckFollowsTheLibblasAlternative(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path multiarch = Files.createDirectories(tmp.resolve("lib/x86_64-linux-gnu"));
        Path openblas = Files.createDirectories(multiarch.resolve("openblas-pthread"));
        Path reference = Files.createDirectories(multiarch.resolve("blas"));
        Files.writeString(openblas.resolve("libblas.so.3"), "");
        Files.writeString(reference.resolve("libblas.so.3"), "");
        Path link = multiarch.resolve("libblas.so.3");
        Files.createSymbolicLink(link, openblas.resolve("libblas.so.3"));
        assertEquals("0", blasCheck(multiarch), "libblas.so.3 -> openblas-pthread: installed");
        Files.delete(link);
        Files.createSymbolicLink(link, reference.resolve("libblas.so.3"));
        assertEquals("1", blasCheck(multiarch), "libblas.so.3 -> the reference BLAS: warn");
        Files.delete(link);
        assertEquals("1", blasCheck(multiarch), "no libblas.so.3: warn");
        String runAll = Files.readString(ROOT.resolve("scripts/bench/run-all.sh"));
        assertTrue(runAll.contains("elif ! paft_openblas_check; then"), "run-all.sh uses the check");
    }

    private static String blasCheck(Path dir) throws Exception {
        Process p = new ProcessBuilder(
                        "bash",
                        "-c",
                        "source '" + ROOT.resolve("scripts/lib/env.sh") + "'; paft_openblas_check '" + dir
                                + "'; echo $?")
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        return out;
    }

    private static String tf32(String block, String paftTf32, String inherited) throws Exception {
        ProcessBuilder pb =
                new ProcessBuilder("bash", "-c", block + "\necho \"${TORCH_ALLOW_TF32_CUBLAS_OVERRIDE:-unset}\"");
        pb.environment().remove("PAFT_TF32");
        pb.environment().remove("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE");
        if (paftTf32 != null) {
            pb.environment().put("PAFT_TF32", paftTf32);
        }
        if (inherited != null) {
            pb.environment().put("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", inherited);
        }
        Process p = pb.redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        return out;
    }

    /** A fresh JVM runs {@code paft --help}: no DJL class is loaded, so no engine starts. */
    @Test
    void helpLoadsNoEngineClass() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = Files.createTempFile("paft-help", ".log");
        try {
            Process p = new ProcessBuilder(
                            java,
                            "-Xshare:auto",
                            "-verbose:class",
                            "-cp",
                            System.getProperty("java.class.path"),
                            "dev.paft.cli.Paft",
                            "--help")
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            long t0 = System.nanoTime();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "help finished");
            double secs = (System.nanoTime() - t0) / 1e9;
            assertEquals(0, p.exitValue(), Files.readString(log));
            List<String> lines = Files.readAllLines(log);
            assertTrue(lines.stream().anyMatch(l -> l.contains("train-sft")), "help was printed");
            assertTrue(lines.stream().anyMatch(l -> l.contains("dev.paft.cli.Paft ")), "class loading was logged");
            List<String> djl = lines.stream().filter(l -> l.contains("ai.djl.")).toList();
            assertTrue(djl.isEmpty(), "--help loaded DJL classes: " + djl.subList(0, Math.min(5, djl.size())));
            System.out.printf("paft --help in a fresh JVM (test class path): %.2f s%n", secs);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
