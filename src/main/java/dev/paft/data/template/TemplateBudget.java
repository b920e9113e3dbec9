package dev.paft.data.template;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.ForTag;
import com.hubspot.jinjava.loader.ResourceLocator;
import com.hubspot.jinjava.tree.TagNode;
import java.nio.charset.Charset;
import java.util.AbstractList;
import java.util.Iterator;
import java.util.List;
import java.util.RandomAccess;
import java.util.function.Supplier;

/**
 * The limits on one chat template rendering, so a hostile or broken template cannot hang or exhaust
 * memory: wall time, loop iterations (summed over all loops, nested ones included), and the size of
 * the output and of any string or collection built on the way (Jinjava's own limits, set in
 * {@link ChatTemplate}). Templates cannot {@code include}, {@code import} or {@code extend} anything:
 * there is no loader for the classpath or the filesystem.
 *
 * <p>A render past a limit stops with {@link Exceeded}, which {@link ChatTemplate} reports as bad input
 * (exit 3) naming the template's source and the limit.
 */
public final class TemplateBudget {
    /** Wall time one render may take. Real chat templates render in milliseconds. */
    public static final long MAX_MILLIS = 5_000;
    /** Loop iterations one render may run (all loops together). A 1,000-turn conversation with tools uses a few thousand. */
    public static final long MAX_ITERATIONS = 1_000_000;
    /** Characters one render may output, and the longest string or most items a collection it builds may hold. */
    public static final long MAX_OUTPUT_CHARS = 64L << 20;
    /** Items of a list or map built by a template (Jinjava's limit on {@code append}, {@code update}, ...). */
    public static final int MAX_COLLECTION_ITEMS = 1_000_000;

    private static final ThreadLocal<TemplateBudget> CURRENT = new ThreadLocal<>();

    private final long deadlineNanos;
    private final long maxIterations;
    private final long maxMillis;
    private long iterations;

    TemplateBudget(long maxMillis, long maxIterations) {
        this.maxMillis = maxMillis;
        this.maxIterations = maxIterations;
        this.deadlineNanos = System.nanoTime() + maxMillis * 1_000_000;
    }

    /** A render stopped at a limit; the message names it. */
    public static final class Exceeded extends RuntimeException {
        Exceeded(String message) {
            super(message);
        }
    }

    /** Runs {@code render} with this budget installed for the current thread. */
    <T> T run(Supplier<T> render) {
        TemplateBudget outer = CURRENT.get();
        CURRENT.set(this);
        try {
            return render.get();
        } finally {
            if (outer == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(outer);
            }
        }
    }

    /** Counts {@code n} loop iterations and checks the clock. */
    private void spend(long n) {
        iterations += n;
        if (iterations > maxIterations) {
            throw new Exceeded(
                    "loop budget exceeded: more than " + maxIterations + " loop iterations in one rendering");
        }
        if (System.nanoTime() - deadlineNanos > 0) {
            throw new Exceeded("time budget exceeded: rendering took more than " + maxMillis + " ms");
        }
    }

    private static void charge(long n) {
        TemplateBudget b = CURRENT.get();
        if (b != null) {
            b.spend(n);
        }
    }

    /**
     * Jinja's {@code for}, with every iteration charged to the render's budget: lists are iterated through
     * a counting view (one unit per element); other iterables (maps, strings) are charged once per loop.
     */
    static final class BudgetedFor extends ForTag {
        private static final long serialVersionUID = 1L;

        @Override
        public String renderForCollection(
                TagNode tagNode, JinjavaInterpreter interpreter, List<String> loopVars, Object collection) {
            if (collection instanceof List<?> list) {
                return super.renderForCollection(tagNode, interpreter, loopVars, new Counting<>(list));
            }
            charge(1); // a map or string: bounded by Jinjava's size limits; charge the loop and check the clock
            return super.renderForCollection(tagNode, interpreter, loopVars, collection);
        }
    }

    /** A read-only list view whose iterator charges one iteration per element. */
    private static final class Counting<E> extends AbstractList<E> implements RandomAccess {
        private final List<E> list;

        Counting(List<E> list) {
            this.list = list;
        }

        @Override
        public E get(int index) {
            return list.get(index);
        }

        @Override
        public int size() {
            return list.size();
        }

        @Override
        public Iterator<E> iterator() {
            Iterator<E> it = list.iterator();
            return new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return it.hasNext();
                }

                @Override
                public E next() {
                    charge(1);
                    return it.next();
                }
            };
        }
    }

    /** The resource locator of the template engine: none; {@code include}, {@code import}, {@code from} and {@code extends} fail. */
    static final class NoResources implements ResourceLocator {
        @Override
        public String getString(String fullName, Charset encoding, JinjavaInterpreter interpreter) {
            throw new Exceeded("'" + fullName + "' cannot be loaded: chat templates may not include, import or extend"
                    + " other templates");
        }
    }
}
