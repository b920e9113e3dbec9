#!/usr/bin/env bash
# Runs dev.paft.bench.TrainBench (src/test/java) against the test class path; compiles first.
#   scripts/bench/java-bench.sh prepare small /tmp/paft-bench/small
#   scripts/bench/java-bench.sh run /tmp/paft-bench/small 3
#   scripts/bench/java-bench.sh phases /tmp/paft-bench/small 3
#   scripts/bench/java-bench.sh matmul 2048 10
# Threads: PAFT_THREADS (default 2). JVM options: BENCH_JAVA_OPTS (default -Xmx6g).
# SKIP_COMPILE=1 skips the maven step (run-all.sh compiles once); otherwise it runs when a source is newer.
set -euo pipefail
# The environment of scripts/paft (sleeping OpenMP workers, huge pages, ...): scripts/lib/env.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
paft_env
CP="$(paft_test_classpath)"
T="${PAFT_THREADS:-2}"
exec java ${BENCH_JAVA_OPTS:--Xmx6g} -Dai.djl.offline=true -Dbench.threads="$T" -Dbench.ops="${BENCH_OPS:-}" \
  -cp "$CP" \
  dev.paft.bench.TrainBench "$@" 2> >(grep -v -e CudaUtils -e 'SLF4J' >&2)
