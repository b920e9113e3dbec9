# Shared by scripts/paft, scripts/bench/*.sh and scripts/attack/*.sh (source it; it runs nothing on its own).
#   PAFT_ROOT              the repository root
#   paft_env               the process environment paft runs in (telemetry off, OpenMP, huge pages, TF32)
#   paft_jar               prints target/paft.jar, built first when missing or older than src/main or pom.xml
#   paft_test_classpath    prints target/classes:target/test-classes:<dependencies>, test-compiled first when
#                          older than src/ or pom.xml (benchmarks live in src/test/java, not in the jar)
#   paft_openblas_check    0 when Debian's libblas.so.3 (what python3-torch loads) resolves to OpenBLAS (the
#                          alternative libopenblas0-pthread installs); ldconfig's cache shows neither
PAFT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

paft_env() {
  export OPT_OUT_TRACKING=true
  # OpenMP threads that spin while waiting make small tensor ops 10x slower when the cores are
  # shared (measured: 2.2 s -> 0.2 s per tiny-model training step under load); sleep instead.
  export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
  # libtorch (>= 2.3) backs CPU tensors of 2 MB and more with transparent huge pages: a step allocates and frees
  # GB-sized buffers (attention scores, logits, their gradients), and with 4 KB pages each fresh buffer costs a
  # page fault per 4 KB. Measured on a medium training step: softmax, its backward, zero fills and bmm 2-10x
  # faster, forward+backward -23% (docs/BENCHMARKS.md). THP_MEM_ALLOC_ENABLE=0 turns it off.
  export THP_MEM_ALLOC_ENABLE="${THP_MEM_ALLOC_ENABLE:-1}"
  # tf32 begin
  # TF32 tensor cores for float32 matmuls on CUDA (Ampere and newer; ~10 mantissa bits instead of 23 inside the
  # matmul, float32 accumulation), as PyTorch's torch.backends.cuda.matmul.allow_tf32 = True. libtorch reads this
  # variable once when it loads, so it must be set before the JVM starts. On by default; PAFT_TF32=0 turns it
  # off (exact float32 matmuls). No effect on CPU. Unverified on a GPU so far: scripts/bench/gpu.sh checks it.
  if [ "${PAFT_TF32:-1}" = 0 ]; then
    unset TORCH_ALLOW_TF32_CUBLAS_OVERRIDE
  else
    export TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1
  fi
  # tf32 end
}

# True when $1 is missing or a file under the other arguments (or pom.xml) is newer than it.
paft_stale() {
  local target="$1"; shift
  [ ! -e "$target" ] || [ -n "$(cd "$PAFT_ROOT" && find "$@" pom.xml -newer "$target" -print -quit 2>/dev/null)" ]
}

paft_jar() {
  local jar="$PAFT_ROOT/target/paft.jar"
  if [ ! -f "$jar" ] || paft_stale "$jar" src/main; then
    echo "paft: building $jar (mvn package) ..." >&2
    (cd "$PAFT_ROOT" && mvn -B -q -DskipTests package >&2)
  fi
  echo "$jar"
}

paft_test_classpath() {
  local stamp="$PAFT_ROOT/target/test-classes/.paft-compiled" deps="$PAFT_ROOT/target/test.classpath"
  if [ -z "${SKIP_COMPILE:-}" ] && paft_stale "$stamp" src; then
    (cd "$PAFT_ROOT" && mvn -B -q -o test-compile >&2) && touch "$stamp"
  fi
  if paft_stale "$deps"; then
    (cd "$PAFT_ROOT" && mvn -B -q -o dependency:build-classpath -Dmdep.outputFile="$deps" >/dev/null)
  fi
  echo "$PAFT_ROOT/target/classes:$PAFT_ROOT/target/test-classes:$(cat "$deps")"
}

paft_openblas_check() {   # [LIBDIR ...] (default: Debian's multiarch library directories)
  local f d
  local dirs=("$@")
  [ ${#dirs[@]} -gt 0 ] || dirs=(/usr/lib/*-linux-gnu /lib/*-linux-gnu)
  for d in "${dirs[@]}"; do
    f="$d/libblas.so.3"
    [ -e "$f" ] || continue
    case "$(readlink -f "$f")" in *openblas*) return 0 ;; esac
  done
  return 1
}
