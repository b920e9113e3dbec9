#!/usr/bin/env bash
# Runs dev.paft.bench.TrainBench (src/test/java) against the test class path; compiles first.
#   scripts/bench/java-bench.sh prepare small /tmp/paft-bench/small
#   scripts/bench/java-bench.sh run /tmp/paft-bench/small 3
#   scripts/bench/java-bench.sh phases /tmp/paft-bench/small 3
#   scripts/bench/java-bench.sh matmul 2048 10
# Threads: PAFT_THREADS (default 2). JVM options: BENCH_JAVA_OPTS (default -Xmx6g).
# SKIP_COMPILE=1 skips the maven step (run-all.sh compiles once).
set -euo pipefail
# Sleeping (not spinning) OpenMP workers, for both sides: spinning made small steps 10x slower on shared cores.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
# libtorch (>= 2.3) backs CPU tensors of 2 MB and more with transparent huge pages: a step allocates and frees
# GB-sized buffers (attention scores, logits, their gradients), and with 4 KB pages each fresh buffer costs a
# page fault per 4 KB. Measured on a medium training step: softmax, its backward, zero fills and bmm 2-10x
# faster, forward+backward -23% (docs/BENCHMARKS.md). THP_MEM_ALLOC_ENABLE=0 turns it off.
export THP_MEM_ALLOC_ENABLE="${THP_MEM_ALLOC_ENABLE:-1}"
cd "$(dirname "$0")/../.."
if [ -z "${SKIP_COMPILE:-}" ]; then mvn -B -q -o test-compile; fi
CP_FILE=target/bench.classpath
[ -s "$CP_FILE" ] || mvn -B -q -o dependency:build-classpath -Dmdep.outputFile="$CP_FILE" >/dev/null
T="${PAFT_THREADS:-2}"
exec java ${BENCH_JAVA_OPTS:--Xmx6g} -Dai.djl.offline=true -Dbench.threads="$T" -Dbench.ops="${BENCH_OPS:-}" \
  -cp "target/classes:target/test-classes:$(cat "$CP_FILE")" \
  dev.paft.bench.TrainBench "$@" 2> >(grep -v -e CudaUtils -e 'SLF4J' >&2)
