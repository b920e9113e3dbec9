package dev.paft.attack;

import dev.paft.io.OutputLock;
import java.nio.file.Path;

/** A child process for the lock cases: locks the output given as argument, says so, then waits to be killed. */
public final class LockHolder {
    private LockHolder() {}

    public static void main(String[] args) throws Exception {
        OutputLock lock = OutputLock.acquire(Path.of(args[0]));
        System.out.println("locked " + ProcessHandle.current().pid());
        System.out.flush();
        Thread.sleep(120_000);
        lock.close();
    }
}
