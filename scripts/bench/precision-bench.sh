#!/usr/bin/env bash
# training.precision on the CPU: the same SFT and DPO training steps as run-all.sh (TrainBench run: TrainingLoop with
# checkpointing, chunked LM head, L1, clipping, AdamW) in fp32 and in bf16, interleaved, on one prepared config.
#
#   scripts/bench/precision-bench.sh                       # small, 3 timed steps, 2 rounds
#   CONFIG=tiny ROUNDS=1 STEPS=2 scripts/bench/precision-bench.sh
#   VARIANTS="fp32:f32 bf16:f32 bf16:bf16"                  # precision:model.dtype pairs (default: all three)
#
# Prints one RESULT line per run (impl=paft is fp32 with f32 weights; impl=paft-<precision>-<dtype> otherwise),
# then a table of min step times and the first step's loss against fp32's. Results: $BENCH_DIR/precision.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG="${CONFIG:-small}"; STEPS="${STEPS:-3}"; ROUNDS="${ROUNDS:-2}"; THREADS="${THREADS:-2}"
VARIANTS="${VARIANTS:-fp32:f32 bf16:f32 bf16:bf16}"
BENCH_DIR="${BENCH_DIR:-/tmp/paft-bench}"; D="$BENCH_DIR/$CONFIG"; RES="$BENCH_DIR/precision.txt"
[ -d target/test-classes/dev/paft/bench ] || mvn -B -q -o test-compile
[ -s target/model-bench.classpath ] || mvn -B -q -o dependency:build-classpath -Dmdep.outputFile=target/model-bench.classpath >/dev/null
CP="target/classes:target/test-classes:$(cat target/model-bench.classpath)"
export OPT_OUT_TRACKING=true OMP_WAIT_POLICY=PASSIVE THP_MEM_ALLOC_ENABLE=1
J() { java -Xmx8g -Dai.djl.offline=true -Dbench.threads="$THREADS" -cp "$CP" "$@"; }
mkdir -p "$BENCH_DIR"
[ -s "$D/model.safetensors" ] || J dev.paft.bench.TrainBench prepare "$CONFIG" "$D" | tail -1
: > "$RES"
for r in $(seq "$ROUNDS"); do
  for v in $VARIANTS; do
    J -Dbench.precision="${v%%:*}" -Dbench.dtype="${v##*:}" dev.paft.bench.TrainBench run "$D" "$STEPS" 2>&1 \
      | grep RESULT | sed "s/\$/ round=$r config=$CONFIG/" | tee -a "$RES"
  done
done
python3 - "$RES" <<'PY'
import re, sys
rows = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in open(sys.argv[1]) if l.startswith("RESULT")]
best, loss = {}, {}
for r in rows:
    k = (r["impl"], r["kind"])
    best[k] = min(best.get(k, 1e9), float(r["min_s"]))
    loss[k] = float(r["loss0"])
print(f"{'impl':18s} {'kind':4s} {'min step s':>10s} {'vs fp32':>8s} {'loss0':>10s} {'rel to fp32':>11s}")
for (impl, kind), t in sorted(best.items(), key=lambda x: (x[0][1], x[0][0])):
    t0, l0 = best.get(("paft", kind)), loss.get(("paft", kind))
    print(f"{impl:18s} {kind:4s} {t:10.3f} {t / t0 if t0 else float('nan'):8.2f} {loss[(impl, kind)]:10.6f} "
          f"{abs(loss[(impl, kind)] - l0) / abs(l0) if l0 else float('nan'):11.2e}")
PY
