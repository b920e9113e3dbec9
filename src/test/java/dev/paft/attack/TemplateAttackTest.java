package dev.paft.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.data.ChatMessage;
import dev.paft.data.template.ChatTemplate;
import dev.paft.data.template.TemplateBudget;
import dev.paft.errors.PaftException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile chat templates (issue 19 items 11 and 13): loops, output and strings are budgeted, nothing can be
 * included, and a syntax error is one line naming the template, all exit 3 within seconds.
 */
class TemplateAttackTest {
    static final List<ChatMessage> CONV = List.of(ChatMessage.user("hi"), ChatMessage.assistant("hello"));

    /** Renders {@code template} and returns the bad-input error it must end in. */
    static PaftException refused(ChatTemplate t) {
        PaftException e = assertTimeoutPreemptively(
                Duration.ofSeconds(20), () -> assertThrows(PaftException.class, () -> t.render(CONV, false)));
        assertEquals(PaftException.BAD_INPUT, e.exitCode(), e.getMessage());
        assertTrue(e.getMessage().startsWith("attack.jinja: "), "names the template: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    static ChatTemplate template(String text) {
        return new ChatTemplate(text, "attack.jinja", Map.of("eos_token", "</s>"));
    }

    @Test
    void nestedRangeLoopsHitTheLoopBudget() {
        // 10^9 empty iterations: hung for minutes before
        long t0 = System.nanoTime();
        PaftException e =
                refused(template("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
                        + "{% endfor %}{% endfor %}{% endfor %}ok"));
        assertTrue(
                e.getMessage().contains("loop budget exceeded: more than " + TemplateBudget.MAX_ITERATIONS),
                e.getMessage());
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "fails fast");
    }

    @Test
    void loopsOverMessagesCountToo() {
        // 3 levels over a 2-message list: 2 + 4 + 8 = 14 iterations; a budget of 10 stops it, 14 lets it through
        String text =
                "{% for a in messages %}{% for b in messages %}{% for c in messages %}.{% endfor %}{% endfor %}{% endfor %}";
        assertEquals("........", template(text).withBudget(5_000, 14).render(CONV, false));
        PaftException e = refused(template(text).withBudget(5_000, 10));
        assertTrue(e.getMessage().contains("more than 10 loop iterations"), e.getMessage());
    }

    @Test
    void stringDoublingHitsTheStringLimit() {
        // 'ab' doubled 40 times is 2 TiB of characters: an OutOfMemoryError after 30 s before
        PaftException e =
                refused(template("{% set s = 'ab' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}"));
        assertTrue(
                e.getMessage().toLowerCase().contains("length")
                        || e.getMessage().toLowerCase().contains("size")
                        || e.getMessage().toLowerCase().contains("limit"),
                e.getMessage());
    }

    @Test
    void outputDoublingHitsTheOutputLimit() {
        // 100 characters x 900,000 iterations = 90 M characters > the 64 Mi output budget, under the loop budget
        String hundred = "x".repeat(100);
        PaftException e = refused(
                template("{% for i in range(900) %}{% for j in range(1000) %}" + hundred + "{% endfor %}{% endfor %}"));
        assertTrue(
                e.getMessage().toLowerCase().contains("output")
                        || e.getMessage().toLowerCase().contains("size")
                        || e.getMessage().toLowerCase().contains("length"),
                e.getMessage());
    }

    @Test
    void timeBudgetStopsASlowRendering() {
        // under the loop budget, over a 200 ms time budget: string work in every one of 990,000 iterations
        PaftException e = refused(template("{% set s = 'ab' * 500 %}{% for i in range(990) %}{% for j in range(1000) %}"
                        + "{% if s.upper() == 'x' %}y{% endif %}{% endfor %}{% endfor %}")
                .withBudget(200, Long.MAX_VALUE));
        assertTrue(e.getMessage().contains("time budget exceeded: rendering took more than 200 ms"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "{% include 'dev/paft/demo/paft-demo.yaml' %}",
                "{% include '/etc/passwd' %}",
                "{% import 'dev/paft/demo/paft-demo.yaml' as x %}",
                "{% from 'dev/paft/demo/paft-demo.yaml' import y %}",
                "{% extends 'dev/paft/demo/paft-demo.yaml' %}"
            })
    void includeImportAndExtendLoadNothing(String text) {
        PaftException e = refused(template(text + "ok"));
        assertTrue(e.getMessage().contains("may not include, import or extend"), e.getMessage());
        assertFalse(e.getMessage().contains("root:"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "{{ messages[0]['content'] ",
                "{% for m in messages %}{{ m['content'] }}",
                "{% if true %}x",
                "{% raw %}x",
                "{{ messages[ }}"
            })
    void syntaxErrorIsOneLineNamingTheTemplateAtLoad(String text) {
        PaftException e = assertThrows(PaftException.class, () -> template(text).render(CONV, false));
        assertEquals(PaftException.BAD_INPUT, e.exitCode(), e.getMessage());
        assertTrue(e.getMessage().startsWith("attack.jinja: chat template "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void ordinaryTemplatesStillRender() {
        assertEquals(
                "[user]hi[assistant]hello</s>",
                template("{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}" + "{% endfor %}{{ eos_token }}")
                        .render(CONV, false));
    }
}
