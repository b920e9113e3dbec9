package dev.paft.data.template;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Jinja2's whitespace rules applied to template source, so that Jinjava (run with no whitespace
 * options) renders text exactly as Jinja2 with transformers' settings does.
 *
 * <p>What Jinja2's lexer does, and this class reproduces on the source:
 * <ul>
 *   <li>newlines ({@code \r\n}, {@code \r}) become {@code \n}; one trailing newline of the
 *       template is dropped ({@code keep_trailing_newline=False});
 *   <li>{@code {%-}, {@code {{-}, {@code {#-}: all whitespace before the tag is removed;
 *       {@code -%}}, {@code -}}}, {@code -#}}: all whitespace after it;
 *   <li>{@code trim_blocks}: one newline right after a block or comment tag ({@code %}},
 *       {@code #}}) is removed ({@code +%}} keeps it);
 *   <li>{@code lstrip_blocks}: spaces and tabs between the start of a line and a block or
 *       comment tag are removed ({@code {%+} keeps them); not before {@code {{ }};
 *   <li>comments are dropped; the {@code -}/{@code +} signs are removed from the tags;
 *       {@code {% generation %}}/{@code {% endgeneration %}} (transformers' assistant-mask tag)
 *       are dropped, their body kept; tag bodies go through {@link JinjaRewrite}.
 * </ul>
 * Tag ends are found the way Jinja2 finds them: outside string literals and only when
 * brackets opened inside the tag are closed.
 */
final class JinjaWhitespace {
    private JinjaWhitespace() {}

    /** The template with Jinja2's whitespace handling done, for a renderer that does none. */
    static String apply(String source) {
        String src = source.replace("\r\n", "\n").replace('\r', '\n');
        if (src.endsWith("\n")) {
            src = src.substring(0, src.length() - 1);
        }
        StringBuilder out = new StringBuilder(src.length());
        int pos = 0;
        boolean lineStarting = true;
        int n = src.length();
        while (pos < n) {
            int tag = nextTagStart(src, pos);
            if (tag < 0) {
                out.append(src, pos, n);
                break;
            }
            char kind = src.charAt(tag + 1); // '%', '{' or '#'
            char sign = tag + 2 < n ? src.charAt(tag + 2) : 0;
            if (sign != '-' && sign != '+') {
                sign = 0;
            }
            String text = src.substring(pos, tag);
            if (sign == '-') {
                text = rstrip(text);
            } else if (sign != '+' && kind != '{') {
                int lineStart = text.lastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.length() && isAllWhitespace(text, lineStart)) {
                    text = text.substring(0, lineStart);
                }
            }
            out.append(text);
            int bodyStart = tag + 2 + (sign != 0 ? 1 : 0);
            if (kind == '%' && isRaw(src, bodyStart)) {
                pos = raw(src, tag, bodyStart, out);
                lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
                continue;
            }
            int[] end = kind == '#' ? commentEnd(src, bodyStart) : tagEnd(src, bodyStart, kind == '{' ? '}' : '%');
            if (end == null) {
                throw new IllegalArgumentException(
                        "unclosed " + src.substring(tag, Math.min(n, tag + 2)) + " tag at character " + tag);
            }
            int innerEnd = end[0];
            int after = end[1];
            char endSign = innerEnd > bodyStart ? src.charAt(innerEnd - 1) : 0;
            boolean stripAfter = endSign == '-';
            boolean keepNewline = endSign == '+' && kind != '{';
            int innerStop = (stripAfter || keepNewline) ? innerEnd - 1 : innerEnd;
            String body = src.substring(bodyStart, innerStop);
            String word = body.strip();
            if (kind == '%' && (word.equals("generation") || word.equals("endgeneration"))) {
                // transformers' assistant-mask tag: renders its body unchanged
            } else if (kind != '#') {
                String open = kind == '{' ? "{{" : "{%";
                String close = kind == '{' ? "}}" : "%}";
                String rewritten = JinjaRewrite.tagBody(body);
                if (kind == '{') {
                    rewritten = " (" + rewritten + ")|" + PyPrint.NAME + " ";
                }
                out.append(open).append(rewritten).append(close);
            }
            pos = after;
            if (stripAfter) {
                while (pos < n && isPyWhitespace(src.charAt(pos))) {
                    pos++;
                }
            } else if (kind != '{' && !keepNewline && pos < n && src.charAt(pos) == '\n') {
                pos++; // trim_blocks
            }
            lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
        }
        return out.toString();
    }

    /** Index of the next {@code {%}, {@code {{} or {@code {#}, or -1. */
    private static int nextTagStart(String s, int from) {
        for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
            char c = s.charAt(i + 1);
            if (c == '%' || c == '{' || c == '#') {
                return i;
            }
        }
        return -1;
    }

    /**
     * End of a block ({@code end='%'}) or variable ({@code end='}'}) tag whose body starts at
     * {@code from}: {index of the closing {@code %}}/{@code }}}, index after it}.
     */
    private static int[] tagEnd(String s, int from, char end) {
        int depth = 0;
        int i = from;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (depth == 0 && c == end && i + 1 < n && s.charAt(i + 1) == '}') {
                return new int[] {i, i + 2};
            }
            if (c == '\'' || c == '"') {
                i = stringEnd(s, i);
                continue;
            }
            if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
                depth--;
            }
            i++;
        }
        return null;
    }

    private static int[] commentEnd(String s, int from) {
        int i = s.indexOf("#}", from);
        return i < 0 ? null : new int[] {i, i + 2};
    }

    /** Index after the string literal starting at {@code start} (backslash escapes skipped). */
    private static int stringEnd(String s, int start) {
        char q = s.charAt(start);
        int i = start + 1;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '\\') {
                i += 2;
            } else if (c == q) {
                return i + 1;
            } else {
                i++;
            }
        }
        return start + 1; // unterminated: treat the quote as an operator, as Jinja2's lexer would fail later
    }

    private static boolean isRaw(String s, int bodyStart) {
        int i = bodyStart;
        while (i < s.length() && isPyWhitespace(s.charAt(i))) {
            i++;
        }
        if (!s.startsWith("raw", i)) {
            return false;
        }
        int j = i + 3;
        while (j < s.length() && isPyWhitespace(s.charAt(j))) {
            j++;
        }
        return s.startsWith("%}", j) || s.startsWith("-%}", j);
    }

    /** Copies a {@code {% raw %}...{% endraw %}} block; returns the index after it. */
    private static int raw(String s, int tag, int bodyStart, StringBuilder out) {
        int close = s.indexOf("%}", bodyStart);
        boolean stripAfter = s.charAt(close - 1) == '-';
        int contentStart = close + 2;
        if (stripAfter) {
            while (contentStart < s.length() && isPyWhitespace(s.charAt(contentStart))) {
                contentStart++;
            }
        }
        Matcher m = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*([-+]?)%}").matcher(s);
        if (!m.find(contentStart)) {
            throw new IllegalArgumentException("missing endraw for the raw block at character " + tag);
        }
        String content = s.substring(contentStart, m.start());
        if ("-".equals(m.group(1))) {
            content = rstrip(content);
        } else if (!"+".equals(m.group(1))) {
            int lineStart = content.lastIndexOf('\n') + 1;
            if (lineStart > 0 && lineStart < content.length() && isAllWhitespace(content, lineStart)) {
                content = content.substring(0, lineStart);
            }
        }
        out.append("{% raw %}").append(content).append("{% endraw %}");
        int pos = m.end();
        if ("-".equals(m.group(2))) {
            while (pos < s.length() && isPyWhitespace(s.charAt(pos))) {
                pos++;
            }
        } else if (!"+".equals(m.group(2)) && pos < s.length() && s.charAt(pos) == '\n') {
            pos++;
        }
        return pos;
    }

    private static boolean isAllWhitespace(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (!isPyWhitespace(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /** Python's {@code str.rstrip()}. */
    static String rstrip(String s) {
        int end = s.length();
        while (end > 0 && isPyWhitespace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(0, end);
    }

    /** Python's {@code str.isspace()} for one character (also what {@code \s} matches in re). */
    static boolean isPyWhitespace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }
}
