package dev.paft.engine;

import dev.paft.errors.PaftException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one owner of native load order: one libtorch for DJL and for JavaCPP's PyTorch bindings.
 *
 * <p>libtorch comes from JavaCPP's presets ({@code org.bytedeco:pytorch}, the same libtorch 2.7.1 DJL 0.36
 * binds). It must load first: DJL loading its own copy first aborts the process ("Tried to register multiple
 * backend fallbacks"), and a libtorch elsewhere on the library path crashes JavaCPP's first load unless its
 * files are cached first. So {@link #load}:
 * <ol>
 *   <li>caches JavaCPP's native files ({@code Loader.cacheResources}) and loads them ({@code Loader.load});</li>
 *   <li>makes a folder of links to those same files ({@code libc10}, {@code libgomp}, {@code libtorch_cpu},
 *       {@code libtorch}, and the CUDA ones in a GPU build) and points DJL at it through the system properties
 *       {@code PYTORCH_LIBRARY_PATH}, {@code PYTORCH_VERSION} and {@code PYTORCH_FLAVOR}, so DJL's JNI binds
 *       the libraries already mapped;</li>
 *   <li>sets the intra-op and inter-op thread counts explicitly (with JavaCPP's libtorch DJL would otherwise
 *       run on 1 intra-op thread).</li>
 * </ol>
 * <p>External mode: when the environment sets {@code PYTORCH_LIBRARY_PATH} (a libtorch of the user's, e.g. a pip
 * torch with DJL's JNI built against it), JavaCPP's libtorch is not loaded, DJL uses that one alone, and the
 * bridge is unavailable: float32 with explicit attention; {@code training.precision: bf16} is then a usage error
 * naming what to install ({@link #bridgeMissing}).
 *
 * <p>Nothing here runs until a command needs the engine: {@code --help}, {@code --dry-run} and the merge commands
 * load no native library. See docs/ENGINE-NOTES.md ("One libtorch").
 */
public final class TorchBootstrap {
    private static final Logger LOG = LoggerFactory.getLogger(TorchBootstrap.class);
    /** libtorch version of both bindings; DJL's JNI checks it. */
    public static final String LIBTORCH_VERSION = "2.7.1";

    private static final List<String> CPU_LIBS = List.of("libc10.so", "libgomp.so.1", "libtorch_cpu.so", "libtorch.so");
    private static final List<String> CUDA_LIBS = List.of("libc10_cuda.so", "libtorch_cuda.so");
    /**
     * CUDA libraries the GPU libtorch links that JavaCPP's {@code cuda-redist:12.9-9.10-1.5.12} on Maven Central does
     * not carry (its cuBLAS, cuDNN, cuSPARSE and cuSOLVER jars were never released there: JavaCPP's issue 1638); they
     * must come from the system. Without them JavaCPP falls back to any other libtorch on the library path, which
     * crashed the JVM (SIGSEGV) on a machine with Debian's libtorch 1.13 (docs/ENGINE-NOTES.md, "The -Pcuda jar").
     */
    static final List<String> SYSTEM_CUDA_LIBS = List.of(
            "libcublas.so.12",
            "libcublasLt.so.12",
            "libcusparse.so.12",
            "libcusolver.so.11",
            "libcudnn.so.9",
            "libcudnn_graph.so.9",
            "libcudnn_ops.so.9",
            "libcudnn_cnn.so.9",
            "libcudnn_adv.so.9");

    private static volatile boolean loaded;
    private static volatile boolean cuda;
    private static volatile String external;
    private static volatile long loadMillis = -1;

    private TorchBootstrap() {}

    /**
     * True when the jar carries JavaCPP's CUDA libtorch ({@code mvn -Pcuda package}); known without loading anything.
     */
    public static boolean cudaNativesOnClasspath() {
        return TorchBootstrap.class.getResource("/org/bytedeco/pytorch/" + Loader.getPlatform() + "-gpu/libtorch.so")
                != null;
    }

    /** The environment's {@code PYTORCH_LIBRARY_PATH} (external mode: DJL alone on that libtorch), or null. */
    public static String externalLibtorch() {
        String env = System.getenv("PYTORCH_LIBRARY_PATH");
        return env == null || env.isBlank() ? null : env;
    }

    /** True once {@link #load} has run in this process. */
    public static boolean isLoaded() {
        return loaded;
    }

    /** True when the loaded libtorch is JavaCPP's CUDA build ({@code mvn -Pcuda package}). */
    public static boolean isCudaBuild() {
        return cuda;
    }

    /**
     * True when JavaCPP's libtorch is loaded and the bridge ({@link Torch}: bf16, fused attention) can be used;
     * false in external mode (the environment's {@code PYTORCH_LIBRARY_PATH}: DJL alone, float32 only).
     */
    public static boolean bridgeAvailable() {
        return loaded && external == null;
    }

    /**
     * Why the bridge is unavailable and what to install, one sentence for an error message; null when it is
     * available (or nothing is loaded yet).
     */
    public static String bridgeMissing() {
        if (!loaded || external == null) {
            return null;
        }
        return "the environment sets PYTORCH_LIBRARY_PATH=" + external
                + ", so paft runs on that libtorch through DJL alone"
                + " (float32, explicit attention); bf16 compute and fused attention need JavaCPP's libtorch "
                + LIBTORCH_VERSION
                + " (org.bytedeco:pytorch, in paft's jar; for CUDA build it with mvn -Pcuda -DskipTests package):"
                + " unset PYTORCH_LIBRARY_PATH to use it";
    }

    /** Milliseconds the native load took (JavaCPP and DJL's JNI), or -1 before {@link #load}. */
    public static long loadMillis() {
        return loadMillis;
    }

    /**
     * Loads libtorch once per process (JavaCPP first, then DJL's JNI over the same files) and sets thread counts.
     * Later calls return at once; their thread count is ignored.
     *
     * @param threads intra-op threads; 0 means all available cores
     */
    public static synchronized void load(int threads) {
        if (loaded) {
            return;
        }
        long t0 = System.nanoTime();
        int intra = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        String env = externalLibtorch();
        if (env != null) {
            // External mode: a libtorch the user chose (e.g. a pip torch with DJL's JNI built against it, the GPU route
            // of scripts/bench/gpu.sh). JavaCPP's libtorch must then stay unloaded (two copies abort the process).
            external = env;
            System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(intra));
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
            System.setProperty("ai.djl.offline", "true");
            System.setProperty("OPT_OUT_TRACKING", "true");
            loaded = true;
            loadMillis = 0;
            LOG.info(
                    "using the libtorch in PYTORCH_LIBRARY_PATH={} through DJL alone: float32, explicit attention",
                    env);
            return;
        }
        String platform = Loader.getPlatform();
        if (!platform.equals("linux-x86_64")) {
            throw new PaftException(
                    PaftException.INTERNAL,
                    "paft's libtorch is built for linux-x86_64; this machine is " + platform
                            + " (build on linux-x86_64)");
        }
        Path dir;
        try {
            dir = null;
            for (String ext : new String[] {"-gpu", ""}) { // the CUDA build (-Pcuda) first, then the CPU one
                if (dir == null
                        && TorchBootstrap.class.getResource("/org/bytedeco/pytorch/" + platform + ext + "/libtorch.so")
                                != null) {
                    dir = libtorchDir(Loader.cacheResources("/org/bytedeco/pytorch/" + platform + ext + "/"));
                }
            }
            if (dir == null) {
                throw new PaftException(
                        PaftException.INTERNAL,
                        "libtorch is missing from the classpath: "
                                + "org.bytedeco:pytorch:" + LIBTORCH_VERSION + "-1.5.12:" + platform
                                + " must be on it (rebuild with mvn package)");
            }
            cuda = Files.exists(dir.resolve("libtorch_cuda.so"));
            if (cuda) {
                requireSystemCudaLibs(platform);
            }
            Loader.load(torch.class);
        } catch (IOException | RuntimeException | LinkageError e) {
            if (e instanceof PaftException p) {
                throw p;
            }
            throw new PaftException(
                    PaftException.INTERNAL, "cannot load libtorch (JavaCPP " + platform + "): " + firstLine(e), e);
        }
        Path links = linkFolder(dir);
        requireNoOverride("PYTORCH_VERSION", LIBTORCH_VERSION);
        requireNoOverride("PYTORCH_FLAVOR", cuda ? "cu128" : "cpu");
        System.setProperty("PYTORCH_LIBRARY_PATH", links.toString());
        System.setProperty("PYTORCH_VERSION", LIBTORCH_VERSION);
        System.setProperty("PYTORCH_FLAVOR", cuda ? "cu128" : "cpu");
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(intra));
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
        if (cuda) {
            pointJnaAtCudart(platform);
        }
        torch.set_num_threads(intra);
        loaded = true;
        loadMillis = (System.nanoTime() - t0) / 1_000_000;
        LOG.debug(
                "libtorch {} ({}) loaded from {} in {} ms; {} intra-op threads",
                LIBTORCH_VERSION,
                cuda ? "CUDA" : "CPU",
                dir,
                loadMillis,
                intra);
    }

    /**
     * DJL reads these from the environment before the system properties set here: a different value would make it
     * load a second libtorch next to JavaCPP's (the process aborts), so it is a usage error (exit 2) naming the variable.
     */
    private static void requireNoOverride(String name, String ours) {
        String env = System.getenv(name);
        if (env != null && !env.equals(ours)) {
            throw PaftException.usage("the environment sets " + name + "=" + env + ", but paft loads its own libtorch "
                    + LIBTORCH_VERSION + " (" + ours + ") and DJL must use the same: unset " + name);
        }
    }

    /**
     * The GPU libtorch needs {@link #SYSTEM_CUDA_LIBS}; a usage error (exit 2) names the missing ones and what to
     * install, before JavaCPP's load could fall back to another libtorch on the library path and crash.
     */
    private static void requireSystemCudaLibs(String platform) throws IOException {
        List<Path> dirs = new ArrayList<>();
        File[] redist = Loader.cacheResources("/org/bytedeco/cuda/" + platform + "/");
        if (redist != null) {
            for (File f : redist) {
                if (f != null) {
                    dirs.add(f.toPath());
                }
            }
        }
        List<String> missing = missingLibraries(
                SYSTEM_CUDA_LIBS, dirs, System.getProperty("java.library.path"), Path.of("/etc/ld.so.cache"));
        if (!missing.isEmpty()) {
            throw PaftException.usage(cudaLibsMissing(missing));
        }
    }

    /** The one line naming missing CUDA libraries and where to get them. */
    static String cudaLibsMissing(List<String> missing) {
        return "this GPU build's libtorch (CUDA 12.9) needs " + String.join(", ", missing)
                + ", not found on the library path (JavaCPP's CUDA jars on Maven Central lack cuBLAS, cuDNN,"
                + " cuSPARSE and cuSOLVER): install them (pip install nvidia-cublas-cu12 nvidia-cudnn-cu12"
                + " nvidia-cusparse-cu12 nvidia-cusolver-cu12, or CUDA 12 with cuDNN 9) and put their lib folders on"
                + " LD_LIBRARY_PATH before java starts (docs/USER-GUIDE.md, \"GPU\")";
    }

    /**
     * Which of {@code names} the dynamic loader or JavaCPP would not find: not in {@code dirs} (JavaCPP's cache), the
     * folders of {@code libraryPath} (java.library.path, which holds LD_LIBRARY_PATH), /usr/local/cuda's lib folders,
     * nor the loader's cache {@code ldCache} (/etc/ld.so.cache, searched for the file name).
     */
    static List<String> missingLibraries(List<String> names, List<Path> dirs, String libraryPath, Path ldCache) {
        List<Path> all = new ArrayList<>(dirs);
        if (libraryPath != null) {
            for (String d : libraryPath.split(File.pathSeparator)) {
                if (!d.isBlank()) {
                    all.add(Path.of(d));
                }
            }
        }
        all.add(Path.of("/usr/local/cuda/lib64"));
        all.add(Path.of("/usr/local/cuda/lib"));
        String cache = "";
        try {
            cache = new String(Files.readAllBytes(ldCache), java.nio.charset.StandardCharsets.ISO_8859_1);
        } catch (IOException | RuntimeException e) {
            // no loader cache: the folders decide
        }
        List<String> missing = new ArrayList<>();
        for (String n : names) {
            boolean found = cache.contains("/" + n + "\0") || cache.contains("\0" + n + "\0");
            for (int i = 0; !found && i < all.size(); i++) {
                found = Files.exists(all.get(i).resolve(n));
            }
            if (!found) {
                missing.add(n);
            }
        }
        return missing;
    }

    /**
     * DJL counts GPUs through the CUDA runtime, loaded by name with JNA ({@code ai.djl.util.cuda.CudaUtils}); in a
     * {@code -Pcuda} build that runtime is JavaCPP's ({@code org.bytedeco:cuda-redist}), cached next to libtorch, so
     * its folder goes on {@code jna.library.path}. Unverified on a GPU so far (scripts/bench/gpu.sh).
     */
    private static void pointJnaAtCudart(String platform) {
        try {
            for (File dir : Loader.cacheResources("/org/bytedeco/cuda/" + platform + "/")) {
                String[] names = dir == null ? null : dir.list((d, n) -> n.startsWith("libcudart.so"));
                if (names != null && names.length > 0) {
                    String old = System.getProperty("jna.library.path");
                    System.setProperty(
                            "jna.library.path",
                            old == null || old.isEmpty() ? dir.toString() : old + File.pathSeparator + dir);
                    return;
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("no CUDA runtime found in JavaCPP's cache: {}", e.toString());
        }
    }

    /** The cached folder holding libtorch.so, or null. */
    private static Path libtorchDir(File[] cached) {
        if (cached == null) {
            return null;
        }
        for (File f : cached) {
            if (f != null && new File(f, "libtorch.so").isFile()) {
                return f.toPath();
            }
        }
        return null;
    }

    /**
     * A folder of symbolic links to JavaCPP's copies of the libraries DJL loads (and nothing else: DJL loads
     * every file in the folder), next to JavaCPP's cache. Written to a temporary sibling and renamed.
     */
    private static Path linkFolder(Path libDir) {
        Path target = libDir.getParent()
                .resolve("paft-djl-" + libDir.getFileName() + "-"
                        + Integer.toHexString(libDir.toString().hashCode()));
        List<String> names = new ArrayList<>(CPU_LIBS);
        if (cuda) {
            names.addAll(CUDA_LIBS);
        }
        if (complete(target, libDir, names)) {
            return target;
        }
        try {
            Path tmp = Files.createTempDirectory(libDir.getParent(), ".paft-djl");
            for (String n : names) {
                if (Files.exists(libDir.resolve(n))) {
                    Files.createSymbolicLink(tmp.resolve(n), libDir.resolve(n));
                }
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException raced) {
                if (!complete(target, libDir, names)) { // another process may have made it meanwhile
                    throw raced;
                }
                deleteTree(tmp);
            }
            return target;
        } catch (IOException e) {
            throw PaftException.io("create", target + " (links to libtorch for DJL)", e);
        }
    }

    private static boolean complete(Path folder, Path libDir, List<String> names) {
        for (String n : names) {
            Path link = folder.resolve(n);
            try {
                if (Files.exists(libDir.resolve(n))
                        && !(Files.isSymbolicLink(link)
                                && Files.readSymbolicLink(link).equals(libDir.resolve(n)))) {
                    return false;
                }
            } catch (IOException e) {
                return false;
            }
        }
        return true;
    }

    private static void deleteTree(Path p) {
        try (var s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a stale temporary folder next to the cache is harmless
        }
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.strip().lines().findFirst().orElse(m);
    }
}
