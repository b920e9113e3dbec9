package dev.paft.testutil;

import dev.paft.cli.Paft;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs the CLI in this JVM, as {@code paft ARGS} would, capturing the exit code, stdout and stderr. */
public final class Cli {
    private Cli() {}

    /** Exit code, stdout and stderr of one run. */
    public record Run(int code, String out, String err) {
        /** Stdout and stderr together, for messages. */
        public String all() {
            return out + err;
        }

        /** The error output's lines, for "one line" checks. */
        public long errLines() {
            return err.strip().lines().count();
        }
    }

    /** {@code paft ARGS}. */
    public static Run paft(String... args) {
        return run(Paft.commandLine(), args);
    }

    /** {@code cl} (e.g. {@link Paft#commandLine()} with a test subcommand added) on {@code args}. */
    public static Run run(CommandLine cl, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }
}
