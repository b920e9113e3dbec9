/**
 * The attack suite: hostile or careless use of paft, one case per test, each asserting what paft
 * guarantees (docs/GUARANTEES.md): no data loss, one writer per output, limits, one-line errors
 * with the documented exit code.
 *
 * <p>Cases are grouped by topic in classes named by their prefix: {@code Output*} (output
 * directories and files: inputs, --overwrite, temporaries, locking, writability), {@code Run*},
 * {@code Resume*} (--resume with a changed config, damaged checkpoints), {@code Divergence*}
 * (a run that diverges without NaN), {@code Merge*} (merge inputs and outputs), and the input
 * cases ({@code ModelConfig*}, {@code Template*}, {@code Data*}, {@code Eval*}: model configs, templates, data, tokenizers). Every case here is fast (tiny models, a few steps) and runs
 * with {@code mvn test}; the slow ones (SIGKILL mid-run, two concurrent processes) are in
 * {@code scripts/attack/run-slow.sh}, which prints held/failed per case.
 */
package dev.paft.attack;
