package dev.paft.merge;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Reusable float arrays keyed by exact length, so that a streaming merge allocates (and zeroes)
 * each tensor shape's arrays once rather than per tensor. Arrays come back with stale contents:
 * callers overwrite every element. At most {@code capBytes} of free arrays are kept; beyond
 * that, released arrays are dropped for the GC (the longest-unused lengths first).
 */
final class FloatPool {
    private final long capBytes;
    private final LongSupplier inFlightBytes;
    private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();
    private final ArrayDeque<Integer> order = new ArrayDeque<>(); // lengths, least recently released first
    private long freeBytes;

    /**
     * {@code capBytes}: the bound on free plus in-flight bytes; {@code inFlightBytes}: the bytes the
     * caller holds now (so free arrays are dropped before a fresh allocation would pass the cap).
     */
    FloatPool(long capBytes, LongSupplier inFlightBytes) {
        this.capBytes = capBytes;
        this.inFlightBytes = inFlightBytes;
    }

    FloatPool(long capBytes) {
        this(capBytes, () -> 0L);
    }

    /** An array of exactly {@code n} elements (contents undefined). */
    synchronized float[] get(int n) {
        ArrayDeque<float[]> q = free.get(n);
        if (q != null && !q.isEmpty()) {
            freeBytes -= 4L * n;
            return q.pop();
        }
        long room = capBytes - inFlightBytes.getAsLong();
        while (freeBytes > 0 && freeBytes > room && evictOther(n)) {
            // drop free arrays of other lengths before allocating
        }
        return new float[n];
    }

    /** Gives arrays back (nulls and repeats of the same array are ignored). */
    synchronized void release(float[]... arrays) {
        outer:
        for (int a = 0; a < arrays.length; a++) {
            float[] v = arrays[a];
            if (v == null) {
                continue;
            }
            for (int b = 0; b < a; b++) {
                if (arrays[b] == v) {
                    continue outer;
                }
            }
            long bytes = 4L * v.length;
            if (bytes > capBytes) {
                continue;
            }
            while (freeBytes + bytes > capBytes && evictOther(v.length)) {
                // evicted one array of another length
            }
            if (freeBytes + bytes > capBytes) {
                continue;
            }
            free.computeIfAbsent(v.length, k -> new ArrayDeque<>()).push(v);
            order.remove(v.length);
            order.addLast(v.length);
            freeBytes += bytes;
        }
    }

    private boolean evictOther(int keep) {
        for (Iterator<Integer> it = order.iterator(); it.hasNext(); ) {
            int len = it.next();
            if (len == keep) {
                continue;
            }
            ArrayDeque<float[]> q = free.get(len);
            if (q != null && !q.isEmpty()) {
                q.pop();
                freeBytes -= 4L * len;
                if (q.isEmpty()) {
                    it.remove();
                }
                return true;
            }
            it.remove();
        }
        return false;
    }
}
