package dev.paft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.testutil.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An enum-valued key spelled wrong stops a command before any work: one line naming key, file and allowed values, exit 2. */
class ConfigEnumCliTest {
    @TempDir
    Path tmp;

    @Test
    void wrongEnumValueInFileExitsTwoNamingKeyFileAndAllowedValues() throws IOException {
        Path cfg = Files.writeString(tmp.resolve("c.yaml"), "model:\n  dtype: fp8\n");
        Cli.Run r = Cli.paft("train-sft", "--config", cfg.toString(), "--dry-run");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains(cfg + ": model.dtype must be one of [f32, f16, bf16] (got fp8)"), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line, no stack trace:\n" + r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void wrongEnumFlagNamesTheFlag() {
        Cli.Run r = Cli.paft("train-dpo", "--loss", "kto", "--dry-run");
        assertEquals(2, r.code(), r.err());
        assertTrue(
                r.err()
                        .contains(
                                "command-line flag for preference.loss: preference.loss must be one of [dpo, ipo, hinge, orpo] (got kto)"),
                r.err());
        Cli.Run s = Cli.paft("train-sft", "--l1-target", "l2", "--dry-run");
        assertEquals(2, s.code(), s.err());
        assertTrue(s.err().contains("sft.l1_target must be one of [factors, delta] (got l2)"), s.err());
    }
}
