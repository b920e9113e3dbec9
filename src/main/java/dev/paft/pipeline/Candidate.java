package dev.paft.pipeline;

import java.nio.file.Path;

/**
 * A model the comparison evaluates: a model directory, optionally with an unmerged adapter.
 *
 * @param kind base, sft, preference, sequential or parallel (how it was made)
 */
public record Candidate(String name, String kind, Path model, Path adapter) {

    /** This candidate's name as a file name: see {@link #fileName(String)}. */
    public String fileName() {
        return fileName(name);
    }

    /**
     * A display name as a file name that needs no quoting in shells and is valid on Windows:
     * "->" becomes "-then-", ":" becomes "-", "/" becomes "." and anything else outside
     * {@code [A-Za-z0-9._+-]} becomes "_" ({@code seq:SFT->preference} is {@code seq-SFT-then-preference}).
     * The display name stays in the file's content.
     */
    public static String fileName(String name) {
        return name.replace("->", "-then-").replace(":", "-").replace("/", ".").replaceAll("[^A-Za-z0-9._+-]", "_");
    }
}
