#!/usr/bin/env bash
# Model benchmarks on synthetic weights (CPU).
#   scripts/bench/model-bench.sh                 # speed: forward and forward+backward tokens/s (5 steps each)
#   scripts/bench/model-bench.sh speed 10        # more steps
#   scripts/bench/model-bench.sh memory 1000     # 1000 fwd+bwd+SGD steps (seq 64, batch 2), VmRSS at 100 .. 1000
#   BENCH_F16=true scripts/bench/model-bench.sh  # frozen weights stored in float16
# Threads: PAFT_THREADS (default 2). JVM options: BENCH_JAVA_OPTS (default -Xmx4g; for RSS use
#   "-Xms128m -Xmx128m -XX:+AlwaysPreTouch" so Java heap growth does not show as native growth).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
paft_env
CP="$(paft_test_classpath)"
T="${PAFT_THREADS:-2}"
exec java ${BENCH_JAVA_OPTS:--Xmx4g} -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$T" -Dai.djl.pytorch.num_interop_threads=1 \
  -Dbench.f16="${BENCH_F16:-false}" -cp "$CP" \
  dev.paft.model.bench.ModelBench "$@" 2> >(grep -v CudaUtils >&2)
