package dev.paft.data.template;

import java.time.Clock;
import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The functions transformers gives chat templates: {@code raise_exception(message)} and
 * {@code strftime_now(format)} (Python's {@code datetime.now().strftime(format)}, read from the
 * clock of the rendering {@link ChatTemplate}).
 */
public final class TemplateGlobals {
    private static final ThreadLocal<Clock> CLOCK = ThreadLocal.withInitial(Clock::systemDefaultZone);

    private TemplateGlobals() {}

    /** HF's {@code raise_exception(message)} template function. */
    public static String raiseException(String message) {
        throw new TemplateRaisedException(message);
    }

    /** {@code strftime_now(format)}: the current local time formatted as Python's strftime does. */
    public static String strftimeNow(String format) {
        return strftime(LocalDateTime.now(CLOCK.get()), format);
    }

    /** Runs with {@code strftime_now} reading {@code clock}. */
    static <T> T withClock(Clock clock, Supplier<T> body) {
        Clock before = CLOCK.get();
        CLOCK.set(clock);
        try {
            return body.get();
        } finally {
            CLOCK.set(before);
        }
    }

    /** Python's {@code strftime} (C locale) for the common directives; others are kept as written. */
    static String strftime(LocalDateTime t, String format) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) {
                b.append(c);
                continue;
            }
            char d = format.charAt(++i);
            boolean noPad = false;
            if (d == '-' && i + 1 < format.length()) {
                noPad = true;
                d = format.charAt(++i);
            }
            int hour12 = t.getHour() % 12 == 0 ? 12 : t.getHour() % 12;
            switch (d) {
                case 'Y' -> b.append(t.getYear());
                case 'y' -> b.append(pad(t.getYear() % 100, 2, noPad));
                case 'm' -> b.append(pad(t.getMonthValue(), 2, noPad));
                case 'd' -> b.append(pad(t.getDayOfMonth(), 2, noPad));
                case 'e' -> b.append(String.format("%2d", t.getDayOfMonth()));
                case 'H' -> b.append(pad(t.getHour(), 2, noPad));
                case 'I' -> b.append(pad(hour12, 2, noPad));
                case 'M' -> b.append(pad(t.getMinute(), 2, noPad));
                case 'S' -> b.append(pad(t.getSecond(), 2, noPad));
                case 'j' -> b.append(pad(t.getDayOfYear(), 3, noPad));
                case 'p' -> b.append(t.getHour() < 12 ? "AM" : "PM");
                case 'a' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.US));
                case 'A' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.US));
                case 'b', 'h' -> b.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.US));
                case 'B' -> b.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.US));
                case 'F' -> b.append(strftime(t, "%Y-%m-%d"));
                case 'T' -> b.append(strftime(t, "%H:%M:%S"));
                case '%' -> b.append('%');
                default -> b.append('%').append(noPad ? "-" : "").append(d);
            }
        }
        return b.toString();
    }

    private static String pad(int v, int width, boolean noPad) {
        String s = Integer.toString(v);
        return noPad ? s : "0".repeat(Math.max(0, width - s.length())) + s;
    }

    /** The error a template raises with {@code raise_exception}. */
    static final class TemplateRaisedException extends RuntimeException {
        TemplateRaisedException(String message) {
            super(message);
        }
    }
}
