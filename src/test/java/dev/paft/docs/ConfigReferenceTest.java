package dev.paft.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.paft.config.PaftConfig;
import dev.paft.config.RunConfig;
import dev.paft.io.Mappers;
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
        Matcher m =
                Pattern.compile("^\\| `([a-z0-9_.]+)` \\|", Pattern.MULTILINE).matcher(ref);
        while (m.find()) {
            documented.add(m.group(1));
        }
        assertEquals(fromRecords, documented, "docs/USER-GUIDE.md config reference drifted from the config records");
    }

    @Test
    void everyValueOfAnEnumKeyIsDocumented() throws Exception {
        var snake = new PropertyNamingStrategies.SnakeCaseStrategy();
        String guide = Files.readString(Path.of("docs/USER-GUIDE.md"));
        String ref = guide.substring(guide.indexOf("## Config reference"));
        int enums = 0;
        for (RecordComponent section : PaftConfig.class.getRecordComponents()) {
            for (RecordComponent key : section.getType().getRecordComponents()) {
                if (!key.getType().isEnum()) {
                    continue;
                }
                enums++;
                String dotted = snake.translate(section.getName()) + "." + snake.translate(key.getName());
                Matcher row = Pattern.compile("^\\| `" + Pattern.quote(dotted) + "` \\|.*$", Pattern.MULTILINE)
                        .matcher(ref);
                assertTrue(row.find(), dotted);
                for (String value : Mappers.spellings(key.getType())) {
                    assertTrue(
                            Pattern.compile("\\b" + value + "\\b")
                                    .matcher(row.group())
                                    .find(),
                            dotted + ": value '" + value + "' missing from its row in docs/USER-GUIDE.md: "
                                    + row.group());
                }
            }
        }
        assertTrue(
                enums >= 6,
                "model.dtype, data.format, training.scheduler, sft.l1_target, preference.loss, preference.orpo_nll");
    }
}
