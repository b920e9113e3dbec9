package dev.paft.engine;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Loads libtorch the way the commands do ({@link TorchBootstrap}: JavaCPP's libtorch first, DJL pointed at the
 * same files) before any test class runs, so that tests creating DJL managers directly get the one libtorch.
 * Registered in META-INF/services; it runs once per test JVM (about 2 s), before discovery.
 */
public final class TorchTestSession implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        TorchBootstrap.load(Integer.getInteger("ai.djl.pytorch.num_threads", 0));
    }
}
