package dev.paft.cli;

import dev.paft.config.ConfigLoader;
import dev.paft.config.PaftConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Options every command shares: the config file, {@code --set} overrides, device, threads,
 * seed and verbosity. Precedence: flag &gt; {@code --set} &gt; file &gt; default.
 */
public final class CommonOptions {
    @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON config file.")
    public Path config;

    @Option(
            names = "--set",
            paramLabel = "KEY=VALUE",
            description = "Override a config key, e.g. --set training.learning_rate=1e-4 (repeatable).")
    public List<String> sets = new ArrayList<>();

    @Option(
            names = "--device",
            paramLabel = "DEV",
            defaultValue = "cpu",
            description =
                    "cpu, cuda, cuda:N or auto (a GPU when one is usable, else the CPU; default: ${DEFAULT-VALUE}).")
    public String device;

    @Option(
            names = "--threads",
            paramLabel = "N",
            defaultValue = "0",
            description = "CPU threads for tensor math; 0 = all cores.")
    public int threads;

    @Option(names = "--seed", paramLabel = "N", description = "Random seed.")
    @ConfigKey("training.seed")
    public Long seed;

    @Option(
            names = {"-v", "--verbose"},
            description = "More log output (-vv for debug).")
    public void verbose(boolean[] v) {
        Logging.setVerbosity(v.length);
    }

    /** Loads the config with these options' file and overrides plus the command's flags. */
    public PaftConfig load(Map<String, Object> flags) {
        Map<String, Object> all = new LinkedHashMap<>(flags);
        all.putAll(ConfigFlags.values(this));
        return ConfigLoader.load(config, sets, all);
    }
}
