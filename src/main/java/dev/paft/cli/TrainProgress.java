package dev.paft.cli;

import dev.paft.train.TrainState;
import dev.paft.train.TrainingLoop;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Training progress: a progress bar (step/total, loss, lr, tokens/s, ETA) on a terminal; plain
 * log lines every {@code log_steps} when stdout is not a terminal (CI, files, pipes).
 */
final class TrainProgress implements TrainingLoop.Listener, AutoCloseable {
    private final String task;
    private final PrintStream out;
    private final boolean terminal;
    private ProgressBar bar;
    private long started;

    TrainProgress(String task, PrintStream out) {
        this.task = task;
        this.out = out;
        this.terminal = System.console() != null && System.getenv("PAFT_NO_PROGRESS_BAR") == null;
    }

    @Override
    public void onStart(TrainState s) {
        started = System.nanoTime();
        if (terminal) {
            bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(s.totalSteps())
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).continuousUpdate().build();
            bar.stepTo(s.step());
        } else {
            out.printf(Locale.ROOT, "%s: %d steps%s%n", task, s.totalSteps(), s.step() > 0 ? " (from step " + s.step() + ")" : "");
        }
    }

    @Override
    public void onStep(TrainState s, Map<String, Object> m) {
        if (bar != null) {
            bar.stepTo(s.step());
            bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f lr %.2e %.0f tok/s", num(m, "loss"), num(m, "learning_rate"), num(m, "tokens_per_s")));
        } else {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "%s step %d/%d", task, s.step(), s.totalSteps()));
            for (Map.Entry<String, Object> e : m.entrySet()) {
                if (!e.getKey().equals("step") && e.getValue() instanceof Number n) {
                    sb.append(String.format(Locale.ROOT, " %s=%.4g", e.getKey(), n.doubleValue()));
                }
            }
            double elapsed = (System.nanoTime() - started) / 1e9;
            sb.append(String.format(Locale.ROOT, " elapsed=%.0fs", elapsed));
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
        message(sb.toString());
    }

    @Override
    public void onMessage(String message) {
        message(task + ": " + message);
    }

    private void message(String text) {
        if (bar != null) {
            out.print("\r");
        }
        out.println(text);
    }

    @Override
    public void onEnd(TrainState s) {
        close();
        out.printf(Locale.ROOT, "%s: done, %d steps, %d tokens in %.1fs%n", task, s.step(), s.tokens(), (System.nanoTime() - started) / 1e9);
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }

    private static double num(Map<String, Object> m, String k) {
        return m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
