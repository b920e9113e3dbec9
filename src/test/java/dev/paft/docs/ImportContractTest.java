package dev.paft.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every package states its import contract in its {@code package-info.java}
 * ("Import contract: floor N; may import a, b."), and the sources keep it: each {@code dev.paft} package a
 * source file imports (or names fully qualified, outside comments and strings) is one its contract allows, and
 * every package a contract allows stands on a lower floor. So no package imports upward and the graph has no
 * cycle. The one exception is the data unit: {@code data}, {@code data.source} and {@code data.template} share
 * floor 3 and may import each other.
 */
class ImportContractTest {
    static final Path MAIN = Path.of("src/main/java/dev/paft");
    static final Pattern CONTRACT =
            Pattern.compile("Import contract: floor (\\d+); may import (.+?)\\.(?:\\s|$)", Pattern.DOTALL);
    static final Pattern IMPORT = Pattern.compile("\\bdev\\.paft((?:\\.[a-z][A-Za-z0-9_]*)+)\\.[A-Z]");

    /** A package's floor and the packages it may import (short names: "io", "train.loss"). */
    record Contract(int floor, Set<String> mayImport) {}

    @Test
    void everyPackageKeepsTheImportContractOfItsPackageInfo() throws IOException {
        Map<String, Contract> contracts = contracts();
        Map<String, Map<String, Set<String>>> imports = imports();
        List<String> missing = new ArrayList<>();
        for (String pkg : imports.keySet()) {
            if (!contracts.containsKey(pkg)) {
                missing.add(pkg);
            }
        }
        assertEquals(
                List.of(),
                missing,
                "packages without an \"Import contract: floor N; may import ...\" line in package-info.java");
        assertEquals(List.of(), violations(contracts, imports));
        assertTrue(contracts.size() >= 17, "found only " + contracts.keySet());
    }

    @Test
    void theCheckFindsAnUpwardImportAnUndeclaredImportAndAnUnknownPackage() {
        Map<String, Contract> contracts = Map.of(
                "errors", new Contract(0, Set.of()),
                "io", new Contract(1, Set.of("errors", "model")), // model is above io
                "model", new Contract(2, Set.of("errors", "io", "nosuch")));
        Map<String, Map<String, Set<String>>> imports = Map.of(
                "io", Map.of("io/A.java", Set.of("errors")),
                "model", Map.of("model/B.java", Set.of("io", "config"))); // config: not declared
        List<String> v = violations(contracts, imports);
        assertEquals(3, v.size(), String.join("\n", v));
        assertTrue(
                v.stream().anyMatch(s -> s.contains("io may import model") && s.contains("floor 2")),
                String.join("\n", v));
        assertTrue(
                v.stream().anyMatch(s -> s.contains("model may import nosuch") && s.contains("no contract")),
                String.join("\n", v));
        assertTrue(v.stream().anyMatch(s -> s.contains("model/B.java imports config")), String.join("\n", v));
    }

    @Test
    void importsAreReadFromCodeNotFromCommentsOrStrings() {
        String src =
                "package dev.paft.x;\nimport dev.paft.io.Json;\nimport static dev.paft.errors.PaftException.usage;\n"
                        + "// dev.paft.model.LlamaModel in a comment\n/* dev.paft.train.Recipes */\n/** {@link dev.paft.cli.Paft} */\n"
                        + "class A { String s = \"dev.paft.pipeline.PaftRun\"; char c = '\"'; Object o = dev.paft.report.View.class;\n"
                        + "String t = \"\"\"\n dev.paft.eval.Perplexity\n \"\"\"; }\n";
        assertEquals(Set.of("io", "errors", "report"), referencedPackages(src));
    }

    /** What breaks the contracts: undeclared imports, declared packages on the same or a higher floor, unknown packages. */
    static List<String> violations(Map<String, Contract> contracts, Map<String, Map<String, Set<String>>> imports) {
        List<String> out = new ArrayList<>();
        for (var e : new TreeMap<>(contracts).entrySet()) {
            String pkg = e.getKey();
            for (String dep : new TreeSet<>(e.getValue().mayImport())) {
                Contract c = contracts.get(dep);
                if (c == null) {
                    out.add(pkg + " may import " + dep + ", a package with no contract");
                } else if (c.floor() >= e.getValue().floor() && !(dataUnit(pkg) && dataUnit(dep))) {
                    out.add(pkg + " may import " + dep + ", but " + dep + " is on floor " + c.floor() + " and " + pkg
                            + " on floor " + e.getValue().floor() + ": a package imports only from lower floors");
                }
            }
        }
        for (var p : new TreeMap<>(imports).entrySet()) {
            Contract c = contracts.get(p.getKey());
            if (c == null) {
                continue;
            }
            for (var f : new TreeMap<>(p.getValue()).entrySet()) {
                for (String dep : new TreeSet<>(f.getValue())) {
                    if (!dep.equals(p.getKey()) && !c.mayImport().contains(dep)) {
                        out.add(f.getKey() + " imports " + dep + ", which the import contract of " + p.getKey()
                                + " (package-info.java) does not allow: " + c.mayImport());
                    }
                }
            }
        }
        return out;
    }

    private static boolean dataUnit(String pkg) {
        return pkg.equals("data") || pkg.startsWith("data.");
    }

    /** Each package's contract, parsed from its package-info.java. */
    static Map<String, Contract> contracts() throws IOException {
        Map<String, Contract> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path info : files.filter(f -> f.getFileName().toString().equals("package-info.java"))
                    .toList()) {
                String text = Files.readString(info).replaceAll("\\s*\\n\\s*\\*\\s*", " ");
                Matcher m = CONTRACT.matcher(text);
                if (!m.find()) {
                    continue;
                }
                Set<String> deps = new LinkedHashSet<>();
                if (!m.group(2).strip().equals("nothing")) {
                    for (String d : m.group(2).split(",")) {
                        deps.add(d.strip());
                    }
                }
                out.put(packageOf(info.getParent()), new Contract(Integer.parseInt(m.group(1)), deps));
            }
        }
        return out;
    }

    /** Package to (source file to the dev.paft packages it references). */
    static Map<String, Map<String, Set<String>>> imports() throws IOException {
        Map<String, Map<String, Set<String>>> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            files.filter(f -> f.toString().endsWith(".java")).forEach(f -> {
                try {
                    out.computeIfAbsent(packageOf(f.getParent()), k -> new TreeMap<>())
                            .put(
                                    MAIN.relativize(f).toString().replace('\\', '/'),
                                    referencedPackages(Files.readString(f)));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
        return out;
    }

    private static String packageOf(Path dir) {
        return MAIN.relativize(dir).toString().replace('\\', '/').replace('/', '.');
    }

    /** The dev.paft packages a source names in code (imports, static imports, fully qualified names). */
    static Set<String> referencedPackages(String source) {
        Set<String> out = new TreeSet<>();
        Matcher m = IMPORT.matcher(codeOnly(source).replaceFirst("package [\\w.]+;", ""));
        while (m.find()) {
            out.add(m.group(1).substring(1));
        }
        return out;
    }

    /** {@code source} with comments, string and char literals and text blocks blanked. */
    static String codeOnly(String s) {
        StringBuilder b = new StringBuilder(s.length());
        int i = 0;
        while (i < s.length()) {
            if (s.startsWith("//", i)) {
                int end = s.indexOf('\n', i);
                i = end < 0 ? s.length() : end;
            } else if (s.startsWith("/*", i)) {
                int end = s.indexOf("*/", i + 2);
                i = end < 0 ? s.length() : end + 2;
                b.append(' ');
            } else if (s.startsWith("\"\"\"", i)) {
                int end = s.indexOf("\"\"\"", i + 3);
                i = end < 0 ? s.length() : end + 3;
                b.append("\"\"");
            } else if (s.charAt(i) == '"' || s.charAt(i) == '\'') {
                char q = s.charAt(i++);
                while (i < s.length() && s.charAt(i) != q) {
                    i += s.charAt(i) == '\\' ? 2 : 1;
                }
                i++;
                b.append(q).append(q);
            } else {
                b.append(s.charAt(i++));
            }
        }
        return b.toString();
    }
}
