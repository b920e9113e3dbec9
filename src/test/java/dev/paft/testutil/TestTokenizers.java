package dev.paft.testutil;

import java.nio.file.Path;

/** The real tokenizer files under src/test/resources/tokenizers (see the README there). */
public final class TestTokenizers {
    /** Llama-2 tokenizer (vocab 32000) with the zephyr-7b-beta chat template. */
    public static final Path LLAMA2 = Path.of("src/test/resources/tokenizers/llama2");
    /** The Llama-3 tokenizer_config.json (chat template and special tokens only). */
    public static final Path LLAMA3 = Path.of("src/test/resources/tokenizers/llama3");

    private TestTokenizers() {}
}
