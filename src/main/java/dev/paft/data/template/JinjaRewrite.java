package dev.paft.data.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites of Jinja2 expressions that Jinjava parses differently, applied to the body of each
 * {@code {{ }}} and {@code {% %}} tag (outside string literals):
 * <ul>
 *   <li>{@code not x is defined} is {@code not (x is defined)} in Jinja2; Jinjava applies the
 *       {@code not} first, so the parentheses are made explicit ({@link #wrapNot});
 *   <li>keyword arguments, {@code namespace(n=messages|length - 1)}: Jinjava ends the value at
 *       the filter, so each value is parenthesized;
 *   <li>{@code x[::-1]} (Jinjava has no slice step) becomes {@code (x|reverse)}.
 * </ul>
 */
final class JinjaRewrite {
    private JinjaRewrite() {}

    private static final String PRIMARY = "[A-Za-z_]\\w*(?:\\.\\w+|\\[[^\\[\\]]*\\])*";
    private static final Pattern REVERSED = Pattern.compile("(" + PRIMARY + ")\\[\\s*:\\s*:\\s*-1\\s*\\]");
    private static final Pattern KWARG = Pattern.compile("[(,]\\s*\\w+\\s*=(?!=)");

    static String tagBody(String body) {
        String text = wrapNot(body);
        text = replace(text, REVERSED, (m, t) -> "(" + group(m, t, 1) + "|reverse)");
        return body.strip().startsWith("macro") ? text : wrapKwargs(text);
    }

    private static final Pattern WORD = Pattern.compile("[A-Za-z_]\\w*");
    private static final Set<String> ENDS = Set.of("and", "or", "if", "else");

    /**
     * Unary {@code not} binds looser than comparisons and tests in Jinja2 ({@code not x is
     * defined}, {@code not a|length == 1}); Jinjava binds it to the next operand, so its operand
     * (up to {@code and}, {@code or}, {@code if}, {@code else}, a comma or a closing bracket) is
     * parenthesized. {@code is not} and {@code not in} are left alone.
     */
    static String wrapNot(String text) {
        String masked = mask(text);
        List<int[]> spans = new ArrayList<>();
        Matcher m = WORD.matcher(masked);
        String prev = null;
        while (m.find()) {
            String w = m.group();
            if (w.equals("not") && !"is".equals(prev) && !nextWordIs(masked, m.end(), "in")) {
                int end = operandEnd(masked, m.end());
                if (end > m.end()) {
                    spans.add(new int[] {m.end(), end});
                }
            }
            prev = w;
        }
        StringBuilder out = new StringBuilder(text);
        for (int i = spans.size() - 1; i >= 0; i--) {
            out.insert(spans.get(i)[1], ')');
            out.insert(spans.get(i)[0], " (");
        }
        return out.toString();
    }

    private static boolean nextWordIs(String s, int from, String word) {
        int i = from;
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return s.startsWith(word, i)
                && (i + word.length() == s.length()
                        || !Character.isLetterOrDigit(s.charAt(i + word.length()))
                                && s.charAt(i + word.length()) != '_');
    }

    /** End of the operand of a unary {@code not} starting at {@code from} (masked text). */
    private static int operandEnd(String s, int from) {
        int depth = 0;
        int i = from;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                if (depth == 0) {
                    break;
                }
                depth--;
            } else if (c == ',' && depth == 0) {
                break;
            } else if (depth == 0 && Character.isLetter(c) && (i == 0 || !isWordChar(s.charAt(i - 1)))) {
                int j = i;
                while (j < s.length() && isWordChar(s.charAt(j))) {
                    j++;
                }
                if (ENDS.contains(s.substring(i, j))) {
                    break;
                }
                i = j;
                continue;
            }
            i++;
        }
        int end = i;
        while (end > from && Character.isWhitespace(s.charAt(end - 1))) {
            end--;
        }
        return end;
    }

    private static boolean isWordChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }

    /** Replaces matches found in the masked text; groups are read from the original text. */
    private static String replace(String text, Pattern p, BiFunction<Matcher, String, String> repl) {
        Matcher m = p.matcher(mask(text));
        StringBuilder out = new StringBuilder();
        int last = 0;
        while (m.find()) {
            out.append(text, last, m.start()).append(repl.apply(m, text));
            last = m.end();
        }
        return out.append(text.substring(last)).toString();
    }

    private static String group(Matcher m, String text, int g) {
        return text.substring(m.start(g), m.end(g));
    }

    private static final char MASK = '\u0001';

    /** The body with string literal contents replaced by a mask character (same length). */
    static String mask(String body) {
        StringBuilder b = new StringBuilder(body);
        int i = 0;
        while (i < body.length()) {
            char c = body.charAt(i);
            if (c == '\'' || c == '"') {
                int j = i + 1;
                while (j < body.length() && body.charAt(j) != c) {
                    j += body.charAt(j) == '\\' ? 2 : 1;
                }
                for (int k = i + 1; k < Math.min(j, body.length()); k++) {
                    b.setCharAt(k, MASK);
                }
                i = j + 1;
            } else {
                i++;
            }
        }
        return b.toString();
    }

    /** Parenthesizes the value of every {@code name=value} argument inside parentheses. */
    private static String wrapKwargs(String text) {
        String masked = mask(text);
        List<int[]> spans = new ArrayList<>();
        Matcher m = KWARG.matcher(masked);
        while (m.find()) {
            if (!insideParens(masked, m.start())) {
                continue;
            }
            int depth = 0;
            int j = m.end();
            for (; j < masked.length(); j++) {
                char c = masked.charAt(j);
                if (c == '(' || c == '[' || c == '{') {
                    depth++;
                } else if (c == ')' || c == ']' || c == '}') {
                    if (depth == 0) {
                        break;
                    }
                    depth--;
                } else if (c == ',' && depth == 0) {
                    break;
                }
            }
            if (j < masked.length()) {
                spans.add(new int[] {m.end(), j});
            }
        }
        StringBuilder out = new StringBuilder(text);
        for (int i = spans.size() - 1; i >= 0; i--) {
            out.insert(spans.get(i)[1], ')');
            out.insert(spans.get(i)[0], '(');
        }
        return out.toString();
    }

    /** Whether the {@code (} or {@code ,} at {@code pos} is inside parentheses (a call). */
    private static boolean insideParens(String masked, int pos) {
        if (masked.charAt(pos) == '(') {
            return true;
        }
        int depth = 0;
        for (int i = 0; i < pos; i++) {
            char c = masked.charAt(i);
            if (c == '(') {
                depth++;
            } else if (c == ')') {
                depth--;
            }
        }
        return depth > 0;
    }
}
