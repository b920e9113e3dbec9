#!/usr/bin/env bash
# Side-by-side benchmarks (issue 9), measured in one go, printed as a table of ratios.
#
#   scripts/bench/run-all.sh                         # small + medium, 2 interleaved rounds, 2 timed steps each
#   ROUNDS=3 STEPS=3 CONFIGS="small" scripts/bench/run-all.sh
#   CONFIGS=tiny ROUNDS=1 STEPS=2 PHASES=0 scripts/bench/run-all.sh   # 1-minute smoke test of the pipeline
#
# What it does, in order (all output lines starting with RESULT go to $OUT_DIR/results.txt):
#   0. setup check: java, maven (offline), Debian python3-torch + OpenBLAS (prints the apt-get line if missing)
#   1. matmul ceiling: 2048^3 float32 GFLOP/s in DJL (paft's libtorch 2.7.1) and in torch 1.13 + OpenBLAS
#   2. per config: `TrainBench prepare` writes weights (safetensors), a PEFT adapter (B != 0) and the batch
#      once; then ROUNDS rounds alternating paft (the real TrainingLoop) and torch_train.py (same math), the
#      order swapped every round (A B, B A, ...). Each process: 1 warm-up + STEPS timed SFT steps, then DPO.
#      Step 1's loss and pre-clip grad norm of both are printed and compared (the "same" column).
#   3. phases: forward / backward / clip / AdamW / zero of the SFT step, and a CE-only forward+backward,
#      in both implementations (config small-b2 = small with batch 2, to keep it short)
#   4. merge throughput: scripts/bench/merge-bench.sh if present (the merge engineer's), else "pending" (MERGE=0 skips)
#   5. scripts/bench/summarize.py prints the table (FLOP formulas in its header).
# Threads: PAFT_THREADS (default 2) for both. Huge pages for both (THP=1, default; see below). Scratch: BENCH_DIR (default /tmp/paft-bench; the medium
# model is 667 MB). Other engineers' builds share this machine: `uptime` is recorded before and after
# each round; compare only ratios from the same run.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
cd "$PAFT_ROOT"
ROOT=$PWD
CONFIGS="${CONFIGS:-small medium}"
ROUNDS="${ROUNDS:-2}"
STEPS="${STEPS:-2}"
PHASE_STEPS="${PHASE_STEPS:-3}"
BENCH_DIR="${BENCH_DIR:-/tmp/paft-bench}"
OUT_DIR="${OUT_DIR:-$BENCH_DIR/out-$(date +%Y%m%d-%H%M%S)}"
PY="${PYTHON:-/usr/bin/python3}"
mkdir -p "$BENCH_DIR" "$OUT_DIR"
RES="$OUT_DIR/results.txt"
: > "$RES"
export PAFT_THREADS="${PAFT_THREADS:-2}"
# Both sides get transparent huge pages for big buffers (page faults on fresh GB-sized step buffers cost more
# than the kernels: 20x on a [4,16,512,512] softmax + zero fill): paft through libtorch's switch
# (THP_MEM_ALLOC_ENABLE=1, set by java-bench.sh as by scripts/paft), Debian's torch 1.13, which has no such
# switch, through glibc's malloc tunable. THP=0 runs both without.
if [ "${THP:-1}" = 1 ]; then
  export THP_MEM_ALLOC_ENABLE=1 GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
else
  export THP_MEM_ALLOC_ENABLE=0; unset GLIBC_TUNABLES
fi

load() { echo "RESULT kind=load when=$1 loadavg=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ',')" | tee -a "$RES"; }

# ---- 0. setup check
missing=0
command -v java >/dev/null || { echo "missing: a Java 17 runtime (apt-get install -y openjdk-17-jdk-headless)"; missing=1; }
command -v mvn >/dev/null || { echo "missing: maven (apt-get install -y maven) and the project's dependencies in ~/.m2 (mvn -o needs them)"; missing=1; }
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "missing: PyTorch for $PY. Install: apt-get install -y python3-torch libopenblas0-pthread"; missing=1
elif ! paft_openblas_check; then
  # What Debian's torch loads is libblas.so.3, an alternative that libopenblas0-pthread points at OpenBLAS
  # (ldconfig's cache names neither the package nor the pthread flavour, and ldconfig is not on a user's PATH).
  echo "warning: libblas.so.3 is not OpenBLAS: Debian's torch then runs on the reference BLAS (~3 GFLOP/s)."
  echo "         Install: apt-get install -y libopenblas0-pthread (or select it: update-alternatives --config libblas.so.3-x86_64-linux-gnu)"
fi
[ "$missing" = 0 ] || exit 2
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); threads $PAFT_THREADS"
echo "results: $RES"
paft_test_classpath >/dev/null || exit 1
export SKIP_COMPILE=1
J="scripts/bench/java-bench.sh"

# ---- 1. matmul ceiling (interleaved, best of each)
load start
for i in 1 2; do
  $J matmul 2048 10 2>/dev/null | grep RESULT | tee -a "$RES"
  "$PY" scripts/bench/torch_train.py matmul 2048 10 | tee -a "$RES"
done

# ---- 2. training steps, interleaved rounds
for c in $CONFIGS; do
  d="$BENCH_DIR/$c"
  [ -s "$d/model.safetensors" ] && [ -s "$d/batch.json" ] || $J prepare "$c" "$d" 2>/dev/null | grep prepared
  for r in $(seq 1 "$ROUNDS"); do
    load "$c-round$r"
    paft() { $J run "$d" "$STEPS" 2>/dev/null | grep RESULT | sed "s/\$/ config=$c round=$r/" | tee -a "$RES"; }
    torch() { "$PY" scripts/bench/torch_train.py run "$d" "$STEPS" | sed "s/\$/ config=$c round=$r/" | tee -a "$RES"; }
    if [ $((r % 2)) = 1 ]; then paft; torch; else torch; paft; fi
  done
done
load end-steps

# ---- 3. phases (PHASES=0 skips)
if [ "${PHASES:-1}" != 0 ]; then
d="$BENCH_DIR/small-b2"
[ -s "$d/model.safetensors" ] || $J prepare small-b2 "$d" 2>/dev/null | grep prepared
$J phases "$d" "$PHASE_STEPS" 2>/dev/null | grep RESULT | sed 's/$/ config=small-b2/' | tee -a "$RES"
"$PY" scripts/bench/torch_train.py phases "$d" "$PHASE_STEPS" | sed 's/$/ config=small-b2/' | tee -a "$RES"
load end-phases
fi

# ---- 4. merge throughput
if [ "${MERGE:-1}" = 0 ]; then
  echo "RESULT kind=merge status=skipped(MERGE=0)" | tee -a "$RES"
elif [ -x scripts/bench/merge-bench.sh ]; then
  scripts/bench/merge-bench.sh 2>&1 | tee "$OUT_DIR/merge.txt"
  grep RESULT "$OUT_DIR/merge.txt" >> "$RES" || echo "RESULT kind=merge status=ran-see-$OUT_DIR/merge.txt" >> "$RES"
else
  echo "RESULT kind=merge status=pending(scripts/bench/merge-bench.sh-not-on-this-branch)" | tee -a "$RES"
fi

# ---- 5. table
echo
"$PY" scripts/bench/summarize.py "$RES" | tee "$OUT_DIR/table.txt"
