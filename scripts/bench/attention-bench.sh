#!/usr/bin/env bash
# Memory and time of one attention forward + backward per variant, each in its own JVM (dev.paft.bench.AttentionBench;
# docs/BENCHMARKS.md, "Fused attention").
#   scripts/bench/attention-bench.sh [B H KV T D]     (default 1 32 8 2048 128: one row of the Mistral-7B shape)
#   env: DTYPES ("f32 bf16") VARIANTS (all) THREADS (2)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
cd "$PAFT_ROOT"
paft_env
CP="$(paft_test_classpath)"
B="${1:-1}"; H="${2:-32}"; KV="${3:-8}"; T="${4:-2048}"; D="${5:-128}"
DTYPES="${DTYPES:-f32 bf16}"; THREADS="${THREADS:-2}"
VARIANTS="${VARIANTS:-explicit sdpa-mask sdpa-causal sdpa-mask-rep sdpa-causal-rep}"
for dt in $DTYPES; do
  for v in $VARIANTS; do
    [ "$v" = explicit ] && [ "$dt" = bf16 ] && continue   # the explicit path runs in float32 only
    java -cp "$CP" dev.paft.bench.AttentionBench "$v" "$B" "$H" "$KV" "$T" "$D" "$dt" "$THREADS" 2>&1 | grep '^RESULT'
  done
done
