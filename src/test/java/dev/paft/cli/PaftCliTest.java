package dev.paft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.EngineException;
import dev.paft.errors.PaftException;
import dev.paft.testutil.Cli;
import dev.paft.testutil.Cli.Run;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/** The {@code paft} command line: help, version, exit codes and the one exception mapper. */
class PaftCliTest {

    static Run run(CommandLine cl, String... args) {
        return Cli.run(cl, args);
    }

    static Run run(String... args) {
        return Cli.paft(args);
    }

    @AfterEach
    void quiet() {
        Logging.setVerbosity(0);
    }

    @Test
    void helpListsTheCommands() {
        Run r = run("--help");
        assertEquals(0, r.code(), r.err());
        for (String c : new String[] {"train-sft", "train-dpo", "merge", "sparsity-report", "help"}) {
            assertTrue(r.out().contains(c), c + " in:\n" + r.out());
        }
        assertTrue(r.out().contains("Exit codes"), r.out());
        assertEquals(0, run("help").code());
        assertEquals(0, run().code(), "no command prints the usage");
        assertEquals(0, Paft.execute("--help"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"train-sft", "train-dpo", "merge", "sparsity-report"})
    void subcommandHelpShowsSharedOptions(String cmd) {
        Run r = run(cmd, "--help");
        assertEquals(0, r.code(), r.err());
        for (String opt : new String[] {"--config", "--set", "--device", "--threads", "--seed", "-v"}) {
            assertTrue(r.out().contains(opt), cmd + " help has " + opt + ":\n" + r.out());
        }
        assertTrue(r.out().contains("default: cpu"), "default value shown:\n" + r.out());
        Run h = run("help", cmd);
        assertEquals(0, h.code());
    }

    @Test
    void version() {
        Run r = run("--version");
        assertEquals(0, r.code());
        assertTrue(r.out().startsWith("paft "), r.out());
        assertTrue(r.out().contains("DJL 0.36.0"), r.out());
    }

    @Test
    void usageErrorsExit2() {
        Run r = run("--no-such-option");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--no-such-option"), r.err());
        assertEquals(2, run("no-such-command").code());
        assertEquals(2, run("merge", "--threads", "many").code());
        assertEquals(2, run("train-sft", "--config").code(), "option without its value");
        assertEquals(2, run("train-sft", "--seed", "1.5").code());
    }

    /** Every command run without its inputs is a usage or input error with a one-line message, never a crash. */
    @ParameterizedTest
    @ValueSource(strings = {"train-sft", "train-dpo", "merge", "sparsity-report", "run", "eval", "generate"})
    void commandsWithoutInputsFailCleanly(String cmd) {
        Run r = run(cmd);
        assertTrue(r.code() == 2 || r.code() == 3, cmd + " exit " + r.code() + ": " + r.err());
        assertTrue(
                r.err().startsWith("paft " + cmd + ": error: ")
                        || r.err().contains("Usage:")
                        || r.err().contains("Missing"),
                r.err());
        assertFalse(r.err().contains("Exception"), "no stack trace for a known error:\n" + r.err());
    }

    @CommandLine.Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        @CommandLine.Option(names = "--code")
        int code;

        @CommandLine.Mixin
        CommonOptions common;

        @Override
        public Integer call() {
            if (code == -1) {
                throw new IllegalStateException("kaput");
            }
            if (code == -2) { // what DJL throws when libtorch's CUDA allocator fails
                throw new EngineException(
                        "CUDA out of memory. Tried to allocate 8.00 GiB. GPU 0 has a total capacity "
                                + "of 79.19 GiB of which 3.1 GiB is free.\nException raised from malloc at CUDACachingAllocator.cpp:1\nframe #0: ...");
            }
            if (code == 0) {
                return 0;
            }
            throw new PaftException(code, "model.safetensors: tensor 'w' is broken", new RuntimeException("cause"));
        }
    }

    static CommandLine withBoom() {
        return Paft.commandLine().addSubcommand("boom", new Boom());
    }

    @Test
    void exceptionMapperUsesTheExitCode() {
        for (int code : new int[] {1, 2, 3, 4}) {
            Run r = run(withBoom(), "boom", "--code", Integer.toString(code));
            assertEquals(code, r.code());
            assertEquals(
                    "paft boom: error: model.safetensors: tensor 'w' is broken",
                    r.err().strip());
        }
        Run v = run(withBoom(), "boom", "--code", "3", "-v");
        assertEquals(3, v.code());
        assertTrue(v.err().contains("RuntimeException: cause"), "-v prints the cause:\n" + v.err());
        Run crash = run(withBoom(), "boom", "--code", "-1");
        assertEquals(1, crash.code());
        assertTrue(
                crash.err().startsWith("paft boom: internal error: java.lang.IllegalStateException: kaput"),
                crash.err());
        assertEquals(0, run(withBoom(), "boom").code());
    }

    @Test
    void outOfMemoryIsOneLineNamingTheSettingsToLower() {
        Run r = run(withBoom(), "boom", "--code", "-2");
        assertEquals(1, r.code());
        assertTrue(
                r.err()
                        .startsWith(
                                "paft boom: error: out of GPU memory (CUDA out of memory. Tried to allocate 8.00 GiB."),
                r.err());
        assertTrue(
                r.err().contains("training.batch_size") && r.err().contains("training.gradient_checkpointing"),
                r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    /** Loads the config from the shared options, as every real command will. */
    @CommandLine.Command(name = "cfg")
    static final class Cfg implements Callable<Integer> {
        @CommandLine.Mixin
        CommonOptions common;

        @Override
        public Integer call() {
            common.load(Map.of());
            return 0;
        }
    }

    @Test
    void configErrorsThroughTheCliExit2() throws Exception {
        Path f = Files.createTempFile("paft", ".yaml");
        try {
            Files.writeString(f, "lora:\n  rank: 4\n");
            CommandLine cl = Paft.commandLine().addSubcommand("cfg", new Cfg());
            Run r = run(cl, "cfg", "--config", f.toString());
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains(f.toString()) && r.err().contains("lora.rank"), r.err());
            assertEquals(2, run(cl, "cfg", "--set", "lora.r=0").code());
            assertEquals(0, run(cl, "cfg", "--set", "lora.r=4", "--seed", "3").code());
            assertEquals(
                    2,
                    run(cl, "cfg", "--config", f.resolveSibling("missing.yaml").toString())
                            .code());
        } finally {
            Files.deleteIfExists(f);
        }
    }

    @Test
    void verbosityLevels() {
        assertEquals(0, run(withBoom(), "boom", "-vv").code());
        assertEquals(2, Logging.verbosity());
        assertTrue(LoggerFactory.getLogger("ai.djl.pytorch.engine.PtEngine").isDebugEnabled(), "-vv: engine debug");
        assertEquals(0, run(withBoom(), "boom", "-v").code());
        assertEquals(1, Logging.verbosity());
        assertTrue(
                LoggerFactory.getLogger("dev.paft.model.LlamaModel").isDebugEnabled(),
                "-v: paft debug (loading, memory)");
        assertFalse(LoggerFactory.getLogger("ai.djl.pytorch.engine.PtEngine").isInfoEnabled(), "-v: no engine chatter");
        assertTrue(
                new TrainProgress(
                                "t",
                                System.out,
                                new Terminal(OutputStream.nullOutputStream(), OutputStream.nullOutputStream(), 80))
                        .stepLines(),
                "-v: a line per logged step on a terminal too");
        assertEquals(0, run(withBoom(), "boom").code());
        assertFalse(new TrainProgress(
                        "t",
                        System.out,
                        new Terminal(OutputStream.nullOutputStream(), OutputStream.nullOutputStream(), 80))
                .stepLines());
    }
}
