package dev.paft.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded shuffling of example order: a Fisher-Yates permutation drawn from a
 * {@link SplittableRandom} seeded by {@code (seed, epoch)}, so each epoch has its own order and
 * the same seed and epoch always give the same one.
 */
public final class Shuffle {
    private Shuffle() {}

    /** A permutation of {@code 0..n-1} for this seed and epoch. */
    public static int[] permutation(int n, long seed, int epoch) {
        SplittableRandom rng = new SplittableRandom(mix(seed, epoch));
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** A new list with the items in {@link #permutation} order. */
    public static <T> List<T> shuffled(List<T> items, long seed, int epoch) {
        int[] p = permutation(items.size(), seed, epoch);
        List<T> out = new ArrayList<>(items.size());
        for (int i : p) {
            out.add(items.get(i));
        }
        return out;
    }

    private static long mix(long seed, int epoch) {
        // SplitMix64 finalizer over seed and epoch, so nearby (seed, epoch) give unrelated streams.
        long z = seed * 0x9E3779B97F4A7C15L + (epoch + 1L) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
