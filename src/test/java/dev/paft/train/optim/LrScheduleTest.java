package dev.paft.train.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import dev.paft.config.Scheduler;
import dev.paft.errors.PaftException;
import dev.paft.train.loss.Golden;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class LrScheduleTest {
    private static final JsonNode GOLDEN = Golden.load("golden_optim.json").get("schedules");

    @Test
    void multipliersMatchHuggingFaceFormulas() {
        for (JsonNode c : GOLDEN.get("cases")) {
            LrSchedule s = new LrSchedule(
                    Scheduler.valueOf(c.get("kind").asText().toUpperCase(Locale.ROOT)),
                    2e-4,
                    c.get("warmup").asInt(),
                    c.get("total").asInt());
            JsonNode want = c.get("multipliers");
            for (int step = 0; step < want.size(); step++) {
                String what = c.get("kind").asText() + " W=" + s.warmupSteps() + " N=" + s.totalSteps() + " s=" + step;
                assertEquals(want.get(step).asDouble(), s.multiplier(step), 1e-15, what);
                assertEquals(2e-4 * want.get(step).asDouble(), s.lr(step), 1e-18, what);
            }
        }
    }

    @Test
    void warmupFromRatioIsCeilLikeHf() {
        for (JsonNode c : GOLDEN.get("warmup_from_ratio")) {
            assertEquals(
                    c.get("warmup").asInt(),
                    LrSchedule.warmupSteps(
                            c.get("total").asInt(), c.get("ratio").asDouble(), 0),
                    c.toString());
        }
        assertEquals(7, LrSchedule.warmupSteps(100, 0.1, 7), "explicit steps win");
    }

    @Test
    void zephyrRecipeShape() {
        // 100 steps, warmup_ratio 0.1: lr 0 at step 0, peak at 10, half at 55, ~0 at the end.
        LrSchedule s = new LrSchedule(Scheduler.COSINE, 2e-4, LrSchedule.warmupSteps(100, 0.1, 0), 100);
        assertEquals(0.0, s.lr(0));
        assertEquals(2e-4, s.lr(10), 1e-18);
        assertEquals(1e-4, s.lr(55), 1e-12);
        assertEquals(0.0, s.lr(100), 1e-18);
    }

    @Test
    void badConfigIsAUsageError() {
        assertThrows(PaftException.class, () -> LrSchedule.warmupSteps(10, 1.5, 0));
        assertThrows(PaftException.class, () -> new LrSchedule(Scheduler.LINEAR, 1e-3, -1, 10));
    }
}
