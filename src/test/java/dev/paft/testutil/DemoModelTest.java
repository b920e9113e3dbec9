package dev.paft.testutil;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of end-to-end test classes that run on a copy of the bundled demo model: {@link #tmp} is the
 * test class's temporary directory and {@link #model} the copy at {@code tmp/base}, made once before
 * the class's tests. Test classes run one after another (no parallel execution is configured), so the
 * static fields belong to the class that is running.
 */
public abstract class DemoModelTest {
    @TempDir
    protected static Path tmp;

    protected static Path model;

    @BeforeAll
    protected static void copyDemoModel() {
        model = TinyModels.demo(tmp.resolve("base"));
    }
}
