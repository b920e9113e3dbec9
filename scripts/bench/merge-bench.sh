#!/usr/bin/env bash
# Merge benchmark: a synthetic BF16 Llama-shaped model of >= 4 GB plus two variants, merged with
# task_arithmetic and TIES; prints the time against raw I/O of the same bytes (same run) and the
# peak RSS growth of each merge. Needs ~3x the model size + 2x for outputs of free disk; the
# synthetic files are deleted afterwards (pass --keep to keep them).
#   scripts/bench/merge-bench.sh [--dir /tmp/paft-merge-bench] [--gb 4.1] [--keep] [--reuse] [--rounds N]
#     [--methods task_arithmetic,ties] [--cache cold|warm|asis]
# --rounds N repeats (raw I/O, merge) pairs N times, interleaved, and reports median ratios;
# --keep --reuse skips regenerating the models between runs. --cache: the inputs' page-cache state
# before each timed run, the same for raw I/O and merge: cold (default; evicted with python3's
# os.posix_fadvise DONTNEED), warm (read once first) or asis (whatever the previous run left).
# BENCH_JAVA_OPTS adds JVM options (e.g. -Dpaft.merge.profile=true for per-stage times).
set -euo pipefail
# The benchmark is dev.paft.bench.MergeBench in src/test/java (not in the jar); the class path and the
# rebuild-when-stale rule: scripts/lib/env.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
paft_env
CP="$(paft_test_classpath)"
# The heap bounds the merge's float buffers (the runner keeps <= ~768 MB of them in flight).
exec java -Xmx1500m -XX:+UseG1GC ${BENCH_JAVA_OPTS:-} -Dai.djl.offline=true -cp "$CP" dev.paft.bench.MergeBench "$@"
