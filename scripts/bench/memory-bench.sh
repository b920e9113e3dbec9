#!/usr/bin/env bash
# Peak memory and step time of one real training command against its --dry-run estimate (issue 13).
#
#   scripts/bench/memory-bench.sh SHAPE KIND [--set key=value ...]
#     SHAPE  0.84b | 7b | tiny   (zero weights in a sparse file: scripts/bench/make_sparse_model.py)
#     KIND   sft | dpo
#   env: SEQ (256) BATCH (2) DTYPE (f32: model.dtype) GC (true: training.gradient_checkpointing)
#        CHUNK (1024: training.loss_chunk_size) STEPS (2) THREADS (2) FILE_DTYPE (BF16: the checkpoint's dtype)
#        BENCH_DIR (/tmp/paft-membench) PAFT_JAVA_OPTS (the launcher's default, -Xmx8g)
#
# Runs `paft train-sft|train-dpo --dry-run` (the estimate), then the same command for STEPS optimizer steps under
# `/usr/bin/time -v` (the peak RSS of the whole process: load, steps, saving the adapter). The step time is the
# last step's: tokens of the step / its tokens_per_s in metrics.jsonl (every example is longer than max_length,
# so a step holds BATCH x SEQ tokens, twice that for dpo). Prints one RESULT line.
#
# The 0.84B shape needs ~4-7 GiB and a few minutes on 2 cores. The 7B shape (SEQ=512 BATCH=1 DTYPE=bf16 STEPS=1)
# needs ~16+ GiB and the whole machine for many minutes:
#   SEQ=512 BATCH=1 DTYPE=bf16 STEPS=1 scripts/bench/memory-bench.sh 7b sft
#   SEQ=512 BATCH=1 DTYPE=bf16 STEPS=1 scripts/bench/memory-bench.sh 7b dpo
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
cd "$PAFT_ROOT"
paft_jar >/dev/null    # built before the timed run
SHAPE="${1:?usage: memory-bench.sh 0.84b|7b|tiny sft|dpo [--set k=v ...]}"
KIND="${2:?usage: memory-bench.sh 0.84b|7b|tiny sft|dpo [--set k=v ...]}"
shift 2
SEQ="${SEQ:-256}"; BATCH="${BATCH:-2}"; DTYPE="${DTYPE:-f32}"; GC="${GC:-true}"; CHUNK="${CHUNK:-1024}"
STEPS="${STEPS:-2}"; THREADS="${THREADS:-2}"; FILE_DTYPE="${FILE_DTYPE:-BF16}"
BENCH_DIR="${BENCH_DIR:-/tmp/paft-membench}"
MODEL="$BENCH_DIR/model-$SHAPE-$FILE_DTYPE"
[ -f "$MODEL/model.safetensors" ] || python3 scripts/bench/make_sparse_model.py "$SHAPE" "$MODEL" --dtype "$FILE_DTYPE" >&2
OUT="$BENCH_DIR/run-$SHAPE-$KIND"; rm -rf "$OUT"
case "$KIND" in
  sft) CMD=train-sft; DATA="$MODEL/sft.jsonl"; ROWS=$BATCH; EXTRA=(--set data.max_prompt_length=64) ;;
  dpo) CMD=train-dpo; DATA="$MODEL/pref.jsonl"; ROWS=$((2 * BATCH)); EXTRA=(--set data.max_prompt_length=64) ;;
  *) echo "memory-bench.sh: KIND must be sft or dpo" >&2; exit 2 ;;
esac
[ "$KIND" = sft ] && EXTRA=()
ARGS=(--model "$MODEL" --train "$DATA" -o "$OUT" --threads "$THREADS" --max-steps "$STEPS" --batch-size "$BATCH"
      --grad-accum 1 --max-length "$SEQ" --set model.dtype="$DTYPE" --set training.gradient_checkpointing="$GC"
      --set training.loss_chunk_size="$CHUNK" --set training.save_steps=0 --set training.log_steps=1
      --set training.eval_steps=0 --set data.eval=null "${EXTRA[@]}" "$@")
est=$(scripts/paft "$CMD" "${ARGS[@]}" --dry-run 2>&1) || { echo "$est" >&2; exit 1; }
echo "$est" | grep -A8 "estimated peak" >&2
est_gib=$(echo "$est" | sed -n 's/^estimated peak memory: \([0-9.]*\) GiB.*/\1/p' | head -1)
log="$BENCH_DIR/$SHAPE-$KIND.time.log"
t0=$(date +%s.%N)
/usr/bin/time -v scripts/paft "$CMD" "${ARGS[@]}" > "$BENCH_DIR/$SHAPE-$KIND.out.log" 2> "$log" || {
  echo "memory-bench.sh: the run failed:" >&2; grep -v '^\s*at ' "$log" | tail -30 >&2; exit 1; }
wall=$(python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$t0")
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$log")
tps=$(tail -1 "$OUT/metrics.jsonl" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["tokens_per_s"])')
python3 - "$SHAPE" "$KIND" "$SEQ" "$BATCH" "$DTYPE" "$GC" "$CHUNK" "$est_gib" "$rss_kb" "$tps" "$ROWS" "$wall" <<'PY'
import sys
shape, kind, seq, batch, dtype, gc, chunk, est, rss_kb, tps, rows, wall = sys.argv[1:]
peak = int(rss_kb) / 2**20
est = float(est)
step = int(rows) * int(seq) / float(tps)
print(f"RESULT shape={shape} kind={kind} seq={seq} batch={batch} dtype={dtype} gc={gc} chunk={chunk} "
      f"estimate_gib={est:.2f} peak_rss_gib={peak:.2f} est_over_peak={est / peak:.3f} step_s={step:.1f} wall_s={float(wall):.0f}")
PY
