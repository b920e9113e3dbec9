package dev.paft.cli;

import dev.paft.train.TrainState;
import dev.paft.train.TrainingLoop;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Training progress. On a terminal: a one-line bar (step/total, loss, lr, tokens/s, elapsed and
 * ETA) kept at the bottom, with eval results and messages printed above it ({@link Terminal}).
 * Elsewhere (CI, files, pipes), and on a terminal with {@code -v}: a plain line per logged step.
 */
final class TrainProgress implements TrainingLoop.Listener, AutoCloseable {
    private final String task;
    private final PrintStream out;
    private final Terminal terminal;
    private final boolean stepLines;
    private ScheduledExecutorService ticker;
    private long started;
    private int total;
    private int startStep;
    private volatile int step;
    private volatile String metrics = "";

    TrainProgress(String task, PrintStream out) {
        this(task, out, Terminal.get());
    }

    TrainProgress(String task, PrintStream out, Terminal terminal) {
        this.task = task;
        this.out = out;
        this.terminal = terminal;
        this.stepLines = terminal == null || Logging.verbosity() > 0;
    }

    /** Whether a plain line is printed per logged step (always off a terminal; with -v on one). */
    boolean stepLines() {
        return stepLines;
    }

    @Override
    public void onStart(TrainState s) {
        started = System.nanoTime();
        total = s.totalSteps();
        startStep = s.step();
        step = s.step();
        out.printf(
                Locale.ROOT,
                "%s: %d steps%s%n",
                task,
                s.totalSteps(),
                s.step() > 0 ? " (from step " + s.step() + ")" : "");
        if (terminal != null) {
            draw();
            ticker = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "paft-progress");
                t.setDaemon(true);
                return t;
            });
            ticker.scheduleAtFixedRate(this::draw, 1, 1, TimeUnit.SECONDS);
        }
    }

    @Override
    public void onStep(TrainState s, Map<String, Object> m) {
        step = s.step();
        if (terminal != null) {
            metrics = String.format(
                    Locale.ROOT,
                    "loss %.4f lr %.2e %.0f tok/s",
                    num(m, "loss"),
                    num(m, "learning_rate"),
                    num(m, "tokens_per_s"));
            draw();
        }
        if (stepLines) {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "%s step %d/%d", task, s.step(), s.totalSteps()));
            for (Map.Entry<String, Object> e : m.entrySet()) {
                if (!e.getKey().equals("step") && e.getValue() instanceof Number n) {
                    sb.append(String.format(Locale.ROOT, " %s=%.4g", e.getKey(), n.doubleValue()));
                }
            }
            sb.append(String.format(Locale.ROOT, " elapsed=%.0fs", elapsed()));
            out.println(sb);
        }
    }

    @Override
    public void onEval(TrainState s, Map<String, Object> m) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s eval @ step %d:", task, s.step()));
        m.forEach((k, v) -> {
            if (k.startsWith("eval_") && v instanceof Number n) {
                sb.append(String.format(Locale.ROOT, " %s=%.4f", k.substring(5), n.doubleValue()));
            }
        });
        out.println(sb);
    }

    @Override
    public void onMessage(String message) {
        out.println(task + ": " + message);
    }

    @Override
    public void onEnd(TrainState s) {
        step = s.step();
        draw();
        stop(true);
        out.printf(Locale.ROOT, "%s: done, %d steps, %d tokens in %.1fs%n", task, s.step(), s.tokens(), elapsed());
    }

    @Override
    public void close() {
        stop(false);
    }

    private void stop(boolean keepBar) {
        if (ticker != null) {
            ticker.shutdownNow();
            ticker = null;
        }
        if (terminal != null) {
            terminal.endStatus(keepBar);
        }
    }

    private double elapsed() {
        return (System.nanoTime() - started) / 1e9;
    }

    /** Draws the bar: {@code task  42% [=====     ] 50/120 loss .. lr .. tok/s 01:02<02:10}. */
    private void draw() {
        if (terminal == null) {
            return;
        }
        int done = step;
        double secs = elapsed();
        String eta = done > startStep && total > done ? "<" + clock(secs / (done - startStep) * (total - done)) : "";
        String right = String.format(Locale.ROOT, " %d/%d %s %s%s", done, total, metrics, clock(secs), eta);
        String left = String.format(Locale.ROOT, "%s %3d%% ", task, total == 0 ? 100 : 100 * done / total);
        int barWidth = Math.min(30, terminal.width() - 1 - left.length() - right.length() - 2);
        String bar = "";
        if (barWidth >= 5) {
            int fill = total == 0 ? barWidth : (int) ((long) barWidth * done / total);
            bar = "[" + "=".repeat(fill) + " ".repeat(barWidth - fill) + "]";
        }
        terminal.status(left + bar + right);
    }

    static String clock(double secs) {
        long s = Math.round(secs);
        return s >= 3600
                ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%02d:%02d", s / 60, s % 60);
    }

    private static double num(Map<String, Object> m, String k) {
        return m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
