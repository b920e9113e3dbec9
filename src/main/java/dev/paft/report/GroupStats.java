package dev.paft.report;

/** Statistics of a group of delta elements (a module, a layer, a module type, a whole input) in both views. */
public interface GroupStats {
    /** The group's name: module name, layer index, type or "all". */
    String key();

    DeltaStats unscaled();

    DeltaStats scaled();

    default DeltaStats stats(View view) {
        return view == View.SCALED ? scaled() : unscaled();
    }

    /** A pooled group: every element of its members counted once. */
    record Pooled(String key, DeltaStats unscaled, DeltaStats scaled) implements GroupStats {
        Pooled plus(GroupStats g) {
            return new Pooled(key, unscaled.plus(g.unscaled()), scaled.plus(g.scaled()));
        }
    }
}
