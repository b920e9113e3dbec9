#!/usr/bin/env bash
# Benchmark of `paft sparsity-report` on a synthetic 7B-sized LoRA adapter (Mistral-7B shapes, r 16,
# q/k/v/o/gate/up/down, 32 layers; F32 factors, 168 MB). Prints wall time and peak RSS, then deletes
# the synthetic files.  Usage: scripts/bench/sparsity-bench.sh [THREADS (default 2)] [HEAP (default 256m)]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
root="$PAFT_ROOT"
threads="${1:-2}"
heap="${2:-256m}"
cp="${PAFT_BENCH_CP:-}"              # class path override, e.g. "target/benchlib/*"
pin="${PAFT_BENCH_PIN:-}"            # e.g. "taskset -c 0,1" to hold the report to two cores
[ -n "$cp" ] || cp="$(paft_jar)"
paft_env
work="$(mktemp -d "${TMPDIR:-/tmp}/paft-sparsity-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

java -cp "$cp" "$root/scripts/bench/SparsityBench.java" "$work/adapter"
du -sh "$work/adapter"
# -Xmx below the largest module delta (14336 x 4096 F32 = 235 MB): the report never materializes one
$pin /usr/bin/time -f 'wall %e s, peak RSS %M KB, user %U s, sys %S s' \
  java -Xmx"$heap" -Djava.awt.headless=true -cp "$cp" dev.paft.cli.Paft \
  sparsity-report "7B=$work/adapter" --threads "$threads" --histogram "$work/hist.png" --plot "$work/plot.png" \
  --output "$work/report.txt" -v
sed -n '1,20p' "$work/report.txt"
