package dev.paft.train;

/**
 * Where a run stands, saved in every checkpoint as {@code trainer_state.json}.
 *
 * @param step optimizer steps done
 * @param totalSteps optimizer steps the run will make
 * @param epoch the epoch the next micro-batch comes from
 * @param microBatch index of the next micro-batch within that epoch's shuffled order
 * @param tokens tokens processed so far
 * @param finished true once the final adapter is written
 */
public record TrainState(int step, int totalSteps, int epoch, int microBatch, long tokens, boolean finished) {
    public static final String FILE = "trainer_state.json";

    public TrainState finish() {
        return new TrainState(step, totalSteps, epoch, microBatch, tokens, true);
    }
}
