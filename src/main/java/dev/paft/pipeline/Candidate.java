package dev.paft.pipeline;

import java.nio.file.Path;

/**
 * A model the comparison evaluates: a model directory, optionally with an unmerged adapter.
 *
 * @param kind base, sft, preference, sequential or parallel (how it was made)
 */
public record Candidate(String name, String kind, Path model, Path adapter) {}
