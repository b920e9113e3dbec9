package dev.paft.cli;

import dev.paft.engine.DeviceMemory;
import dev.paft.errors.IoErrors;
import dev.paft.errors.PaftException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code paft} command: parallel fine-tuning (PAFT) of LLMs. SFT with an L1-sparse LoRA and
 * preference alignment (DPO / ORPO) train from the same base; their deltas merge into one model.
 */
@Command(
        name = "paft",
        mixinStandardHelpOptions = true,
        versionProvider = Paft.Version.class,
        description = {
            "Parallel fine-tuning of LLMs: sparse LoRA SFT and preference alignment from one base, merged.",
            ""
        },
        commandListHeading = "%nCommands:%n",
        footerHeading = "%nExit codes:%n",
        footer = {
            "  0 ok, 1 internal error, 2 usage/config error, 3 bad input file or data, or a",
            "  file that cannot be read or written (disk full, permission denied), 4 NaN/Inf",
            "  or divergence, 130 interrupted (Ctrl-C).",
            "",
            "Run 'paft COMMAND --help' for a command's options. Options also take their",
            "TRL/transformers spellings: --learning_rate, --num_train_epochs, ..."
        },
        subcommands = {
            DemoCommand.class,
            RunCommand.class,
            TrainSftCommand.class,
            TrainDpoCommand.class,
            MergeCommand.class,
            SparsityReportCommand.class,
            EvalCommand.class,
            GenerateCommand.class,
            ChatCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Paft implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        Terminal.install();
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit code (tests call this instead of main). */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    public static CommandLine commandLine() {
        Logging.setVerbosity(0); // -v sets it again while parsing
        CommandLine cl = new CommandLine(new Paft());
        cl.setExecutionExceptionHandler(Paft::handle);
        cl.setParameterExceptionHandler(Paft::usageError);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        HelpLayout.apply(cl);
        return cl;
    }

    /** The one exception mapper: typed errors become their exit code and a one-line message. */
    static int handle(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        boolean verbose = Logging.verbosity() > 0;
        if (e instanceof PaftException pe) {
            err.println("paft " + cl.getCommandName() + ": error: " + pe.getMessage());
            if (verbose && pe.getCause() != null) {
                pe.getCause().printStackTrace(err);
            }
            err.flush();
            return pe.exitCode();
        }
        if (DeviceMemory.isOutOfMemory(e)) { // libtorch's CPU/CUDA allocation failures: one line, no stack trace
            PaftException oom = DeviceMemory.outOfMemory(e);
            err.println("paft " + cl.getCommandName() + ": error: " + oom.getMessage());
            if (verbose) {
                e.printStackTrace(err);
            }
            err.flush();
            return oom.exitCode();
        }
        if (IoErrors.isDiskFull(e)) { // a full disk is the machine's state, not a paft bug: one line
            String file = IoErrors.fileOf(e);
            err.println("paft " + cl.getCommandName() + ": error: no space left on device"
                    + (file == null ? "" : " (writing " + file + ")"));
            err.flush();
            return PaftException.BAD_INPUT;
        }
        Throwable io = IoErrors.ioCause(e);
        if (io != null) { // a file operation that failed: the error policy's exit 3, one line (-v: the trace)
            String file = IoErrors.fileOf(io);
            err.println("paft " + cl.getCommandName() + ": error: "
                    + (file == null ? String.valueOf(io.getMessage()) : file) + ": " + IoErrors.reason(io));
            if (verbose) {
                e.printStackTrace(err);
            }
            err.flush();
            return PaftException.BAD_INPUT;
        }
        err.println("paft " + cl.getCommandName() + ": internal error: " + e);
        e.printStackTrace(err);
        err.flush();
        return PaftException.INTERNAL;
    }

    /**
     * A bad command line: one line naming what is wrong, a suggestion for a mistyped option or
     * command, and where the help is; exit 2 (not the whole usage text).
     */
    static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        PrintWriter err = cl.getErr();
        String cmd = cl.getCommandSpec().qualifiedName();
        StringBuilder sb = new StringBuilder(cmd + ": error: "
                + e.getMessage().replace(System.lineSeparator(), " ").strip());
        if (e instanceof CommandLine.UnmatchedArgumentException u
                && !u.getSuggestions().isEmpty()) {
            sb.append("; did you mean ").append(u.getSuggestions().get(0)).append('?');
        }
        err.println(sb);
        err.println("Run '" + cmd + " --help' for its options.");
        err.flush();
        return PaftException.USAGE;
    }

    /** Reports the jar's version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Paft.class.getPackage().getImplementationVersion();
            return new String[] {
                "paft " + (v == null ? "dev" : v),
                "DJL 0.36.0, PyTorch 2.7.1 (CPU natives bundled)",
                "Java " + System.getProperty("java.version")
            };
        }
    }
}
