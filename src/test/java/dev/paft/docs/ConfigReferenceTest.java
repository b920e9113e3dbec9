package dev.paft.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.paft.config.PaftConfig;
import dev.paft.config.RunConfig;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The user guide's config reference lists exactly the keys of the config records. */
class ConfigReferenceTest {
    @Test
    void userGuideConfigReferenceMatchesTheRecords() throws Exception {
        Set<String> fromRecords = new TreeSet<>();
        var snake = new PropertyNamingStrategies.SnakeCaseStrategy();
        for (RecordComponent section : PaftConfig.class.getRecordComponents()) {
            String s = snake.translate(section.getName());
            for (RecordComponent key : section.getType().getRecordComponents()) {
                fromRecords.add(s + "." + snake.translate(key.getName()));
            }
        }
        for (RecordComponent key : RunConfig.RunEval.class.getRecordComponents()) {
            fromRecords.add("run.eval." + snake.translate(key.getName()));
        }
        String guide = Files.readString(Path.of("docs/USER-GUIDE.md"));
        String ref = guide.substring(guide.indexOf("## Config reference"));
        Set<String> documented = new TreeSet<>();
        Matcher m = Pattern.compile("^\\| `([a-z0-9_.]+)` \\|", Pattern.MULTILINE).matcher(ref);
        while (m.find()) {
            documented.add(m.group(1));
        }
        assertEquals(fromRecords, documented, "docs/USER-GUIDE.md config reference drifted from the config records");
    }
}
