package dev.paft.cli;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * One status line (the training progress bar) at the bottom of the terminal, with every other line
 * printed above it. {@link #install()} routes {@code System.out} and {@code System.err} through it
 * when stdout is a terminal, so log lines, eval results and messages from any code are never drawn
 * over by the bar: a line is written after clearing the bar, and the bar is redrawn below it.
 *
 * <p>The bar is drawn with a carriage return and "erase to end of line" only (no cursor movement),
 * and cut to the terminal width, so it never wraps.
 */
public final class Terminal {
    private static final byte[] CLEAR = "\r\033[K".getBytes(StandardCharsets.US_ASCII);
    private static volatile Terminal installed;

    private final OutputStream out;
    private final OutputStream err;
    private final int width;
    private String status;

    /** A status line drawn on {@code out} ({@code err}'s lines also clear it), {@code width} columns wide. */
    Terminal(OutputStream out, OutputStream err, int width) {
        this.out = out;
        this.err = err;
        this.width = Math.max(20, width);
    }

    /** The installed terminal, or null when stdout is not a terminal (pipes, files, tests). */
    static Terminal get() {
        return installed;
    }

    /**
     * Routes System.out and System.err through a status line when stdout is a terminal and
     * {@code PAFT_NO_PROGRESS_BAR} is unset. Called once from {@code main}.
     */
    static synchronized void install() {
        if (installed != null || System.console() == null || System.getenv("PAFT_NO_PROGRESS_BAR") != null) {
            return;
        }
        OutputStream rawOut = new FileOutputStream(FileDescriptor.out);
        OutputStream rawErr = new FileOutputStream(FileDescriptor.err);
        Terminal t = new Terminal(rawOut, rawErr, columns());
        System.setOut(new PrintStream(t.router(false), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(t.router(true), true, StandardCharsets.UTF_8));
        installed = t;
    }

    int width() {
        return width;
    }

    /** Shows (or replaces) the status line, cut to the terminal width. */
    synchronized void status(String text) {
        status = fit(text);
        drawStatus();
    }

    /** Removes the status line; with {@code keep} it stays on screen as an ordinary line. */
    synchronized void endStatus(boolean keep) {
        if (status == null) {
            return;
        }
        try {
            if (keep) {
                out.write(("\r" + status + "\033[K\n").getBytes(StandardCharsets.UTF_8));
            } else {
                out.write(CLEAR);
            }
            out.flush();
        } catch (IOException ignored) {
            // the terminal is gone; nothing to draw on
        }
        status = null;
    }

    /** Writes a whole line (without its newline) above the status line. */
    synchronized void line(byte[] bytes, int len, boolean toErr) {
        try {
            if (status != null) {
                out.write(CLEAR);
                out.flush();
            }
            OutputStream o = toErr ? err : out;
            o.write(bytes, 0, len);
            o.write('\n');
            o.flush();
            if (status != null) {
                drawStatus();
            }
        } catch (IOException ignored) {
            // as above
        }
    }

    private synchronized void passThrough(byte[] bytes, int off, int len, boolean toErr) throws IOException {
        OutputStream o = toErr ? err : out;
        o.write(bytes, off, len);
        o.flush();
    }

    private void drawStatus() {
        try {
            out.write(("\r" + status + "\033[K").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException ignored) {
            // as above
        }
    }

    /** {@code text} cut to one column less than the width (a full last column makes some terminals wrap). */
    String fit(String text) {
        return text.length() < width ? text : text.substring(0, width - 2) + "~";
    }

    /** A stream for System.out/err: whole lines go above the status line; partial lines pass through when no bar is shown. */
    OutputStream router(boolean toErr) {
        return new OutputStream() {
            private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                synchronized (Terminal.this) {
                    int start = off;
                    for (int i = off; i < off + len; i++) {
                        if (b[i] == '\n') {
                            pending.write(b, start, i - start);
                            byte[] line = pending.toByteArray();
                            pending.reset();
                            line(line, line.length, toErr);
                            start = i + 1;
                        }
                    }
                    pending.write(b, start, off + len - start);
                    if (status == null && pending.size() > 0) {
                        // a prompt or streamed tokens: show them now
                        byte[] part = pending.toByteArray();
                        pending.reset();
                        passThrough(part, 0, part.length, toErr);
                    }
                }
            }
        };
    }

    /** The terminal's width: $COLUMNS, else {@code stty size} on the controlling terminal, else 80. */
    static int columns() {
        try {
            String env = System.getenv("COLUMNS");
            if (env != null && env.matches("\\d{2,4}")) {
                return Integer.parseInt(env);
            }
            if (!System.getProperty("os.name", "").toLowerCase().startsWith("windows")) {
                Process p = new ProcessBuilder("sh", "-c", "stty size < /dev/tty")
                        .redirectErrorStream(true)
                        .start();
                String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
                if (p.waitFor(2, TimeUnit.SECONDS) && s.matches("\\d+ \\d+")) {
                    int c = Integer.parseInt(s.split(" ")[1]);
                    if (c > 0) {
                        return c;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 80;
    }
}
