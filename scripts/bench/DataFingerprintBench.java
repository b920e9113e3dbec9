import dev.paft.train.DataFingerprints;
import java.nio.file.Path;
import java.util.List;

/**
 * Times paft's data fingerprint (size + SHA-256 of the whole file, streamed; what every training run records and
 * --resume compares) on each file given. Run with the paft jar on the class path:
 * java -cp target/paft.jar scripts/bench/DataFingerprintBench.java FILE...  (scripts/bench/data-fingerprint.sh)
 */
public class DataFingerprintBench {
    public static void main(String[] args) {
        for (String a : args) {
            long t = System.nanoTime();
            List<DataFingerprints.FilePrint> p = DataFingerprints.ofPath(Path.of(a));
            double s = (System.nanoTime() - t) / 1e9;
            long size = p.get(0).size();
            System.out.printf(
                    "%s: %d bytes, sha256 %s, %.2f s, %.0f MB/s%n",
                    a, size, p.get(0).sha256(), s, size / s / 1e6);
        }
    }
}
