package dev.paft.config;

/** {@code training.scheduler}: the learning-rate decay after the linear warm-up (Hugging Face's schedules). */
public enum Scheduler {
    COSINE,
    LINEAR,
    CONSTANT
}
