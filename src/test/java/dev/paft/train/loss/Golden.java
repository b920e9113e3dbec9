package dev.paft.train.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Reads the golden fixtures made by scripts/golden/train_parts.py and compares arrays. */
public final class Golden {
    private Golden() {}

    public static JsonNode load(String name) {
        try (InputStream in = Golden.class.getResourceAsStream("/train/" + name)) {
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static double[] doubles(JsonNode node) {
        double[] out = new double[node.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = node.get(i).asDouble();
        }
        return out;
    }

    public static long[] longs(JsonNode node) {
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = node.get(i).asLong();
        }
        return out;
    }

    /** An array of the golden values (float32 values, exact in either dtype). */
    public static NDArray array(NDManager m, JsonNode values, Shape shape, DataType type) {
        return m.create(doubles(values), shape).toType(type, false);
    }

    public static NDArray vector(NDManager m, JsonNode values, DataType type) {
        return array(m, values, new Shape(values.size()), type);
    }

    /** |actual - expected| <= tol * max(1, |expected|), element-wise. */
    public static void assertClose(double[] expected, NDArray actual, double tol, String what) {
        double[] a = actual.toType(DataType.FLOAT64, false).toDoubleArray();
        assertEquals(expected.length, a.length, what + ": size");
        for (int i = 0; i < a.length; i++) {
            assertClose(expected[i], a[i], tol, what + "[" + i + "]");
        }
    }

    public static void assertClose(double expected, double actual, double tol, String what) {
        double err = Math.abs(actual - expected);
        assertTrue(
                err <= tol * Math.max(1, Math.abs(expected)),
                what + ": expected " + expected + " got " + actual + " (err " + err + ")");
    }

    public static void assertClose(double expected, NDArray actual, double tol, String what) {
        assertClose(expected, actual.toType(DataType.FLOAT64, false).getDouble(), tol, what);
    }
}
