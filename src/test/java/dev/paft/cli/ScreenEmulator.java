package dev.paft.cli;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A minimal VT100 screen for tests: printable characters with auto-wrap at {@code width}, CR, LF,
 * BS, erase to end of line ({@code ESC[K}) and cursor up/down/forward/back ({@code ESC[nA/B/C/D}).
 * Feeding it what a program wrote to a pseudo-terminal gives the lines a user would see.
 */
final class ScreenEmulator {
    private final int width;
    private final List<StringBuilder> rows = new ArrayList<>();
    private final Set<Integer> continued = new HashSet<>();
    private int row;
    private int col;

    ScreenEmulator(int width) {
        this.width = width;
        rows.add(new StringBuilder());
    }

    ScreenEmulator feed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\033' && i + 1 < s.length() && s.charAt(i + 1) == '[') {
                int j = i + 2;
                while (j < s.length() && (Character.isDigit(s.charAt(j)) || s.charAt(j) == ';' || s.charAt(j) == '?')) {
                    j++;
                }
                if (j >= s.length()) {
                    break;
                }
                String arg = s.substring(i + 2, j);
                int n = arg.isEmpty() || !arg.matches("\\d+") ? 1 : Integer.parseInt(arg);
                switch (s.charAt(j)) {
                    case 'K' -> line().setLength(Math.min(col, line().length()));
                    case 'A' -> row = Math.max(0, row - n);
                    case 'B' -> moveTo(row + n);
                    case 'C' -> col = Math.min(width - 1, col + n);
                    case 'D' -> col = Math.max(0, col - n);
                    default -> {}
                }
                i = j;
            } else if (c == '\r') {
                col = 0;
            } else if (c == '\n') {
                moveTo(row + 1); // and to column 0, as a tty's output processing (onlcr) does
                col = 0;
            } else if (c == '\b') {
                col = Math.max(0, col - 1);
            } else if (c >= ' ') {
                if (col >= width) {
                    moveTo(row + 1);
                    continued.add(row);
                    col = 0;
                }
                StringBuilder l = line();
                while (l.length() < col) {
                    l.append(' ');
                }
                if (col < l.length()) {
                    l.setCharAt(col, c);
                } else {
                    l.append(c);
                }
                col++;
            }
        }
        return this;
    }

    private void moveTo(int r) {
        row = r;
        while (rows.size() <= row) {
            rows.add(new StringBuilder());
        }
    }

    private StringBuilder line() {
        return rows.get(row);
    }

    /** The screen's rows (scrollback included), trailing blanks removed. */
    List<String> rows() {
        return rows.stream().map(b -> b.toString().stripTrailing()).toList();
    }

    /** The rows with auto-wrapped continuations joined: the lines as written, as far as the screen still shows them. */
    List<String> lines() {
        List<String> out = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            String s = rows.get(r).toString();
            if (continued.contains(r) && !out.isEmpty()) {
                out.set(out.size() - 1, out.get(out.size() - 1) + s);
            } else {
                out.add(s);
            }
        }
        return out.stream().map(String::stripTrailing).toList();
    }
}
