package dev.paft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.paft.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Each flag's config key is declared once, by {@link ConfigKey} on its field: the user guide's flag table lists
 * exactly those flags and keys, every key exists, and a flag spelled the same sets the same key in every command.
 */
class FlagReferenceTest {
    /** "--flag key" to the commands that have it, from the annotations. */
    static Map<String, TreeSet<String>> declared() {
        Map<String, TreeSet<String>> rows = new TreeMap<>();
        for (Map.Entry<String, CommandLine> c :
                Paft.commandLine().getSubcommands().entrySet()) {
            for (OptionSpec o : c.getValue().getCommandSpec().options()) {
                String key = ConfigFlags.keyOf(o);
                if (key != null) {
                    String flag = List.of(o.names()).stream()
                            .filter(n -> n.startsWith("--"))
                            .findFirst()
                            .orElseThrow();
                    rows.computeIfAbsent(flag + " " + key, k -> new TreeSet<>()).add(c.getKey());
                }
            }
        }
        return rows;
    }

    @Test
    void userGuideFlagTableMatchesTheConfigKeyAnnotations() throws Exception {
        Map<String, TreeSet<String>> rows = declared();
        List<String> expected = new ArrayList<>();
        rows.forEach((fk, cmds) -> {
            String[] p = fk.split(" ");
            expected.add("| `" + p[0] + "` | `" + p[1] + "` | " + String.join(", ", cmds) + " |");
        });
        String guide = Files.readString(Path.of("docs/USER-GUIDE.md"));
        List<String> documented = new ArrayList<>();
        Matcher m =
                Pattern.compile("^\\| `--[a-z0-9-]+` \\|.*$", Pattern.MULTILINE).matcher(guide);
        while (m.find()) {
            documented.add(m.group());
        }
        assertEquals(
                String.join("\n", expected),
                String.join("\n", documented),
                "docs/USER-GUIDE.md's flag table drifted from the @ConfigKey annotations");
    }

    @Test
    void everyKeyExistsAndAFlagSetsOneKeyEverywhere() {
        var defaults = ConfigLoader.defaults();
        Map<String, String> keyOfFlag = new TreeMap<>();
        for (String fk : declared().keySet()) {
            String[] p = fk.split(" ");
            String[] k = p[1].split("\\.");
            assertTrue(defaults.path(k[0]).has(k[1]), p[1] + " (" + p[0] + ") is not a config key");
            String before = keyOfFlag.put(p[0], p[1]);
            assertTrue(before == null || p[0].equals("--output-dir"), p[0] + " sets " + before + " and " + p[1]);
        }
    }
}
