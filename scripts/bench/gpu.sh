#!/usr/bin/env bash
# paft's LoRA SFT and DPO training steps on an NVIDIA GPU (no internet needed), 1B-class config:
# hidden 2048, 16 layers, 32 heads, 8 KV heads, MLP 5632, vocab 32000, seq 1024, batch 4, LoRA r 8 on
# q,k,v,o, float32, random weights (~845M parameters, 3.4 GB). Prints tokens/s and model-FLOPs utilization
# against the card's own float32 matmul rate measured in the same run.
#
#   scripts/bench/gpu.sh                 # 1 warm-up + 3 timed steps each of SFT and DPO
#   STEPS=5 CONFIG=gpu1b scripts/bench/gpu.sh
#   scripts/bench/gpu.sh bundle [DIR]    # on the build machine: copy classes + jars (no CPU natives,
#                                        # ~45 MB) into DIR (default target/gpu-bench-lib) for the GPU box
#
# Needs (each is checked; whatever is missing is named):
#   1. an NVIDIA GPU and driver (nvidia-smi) able to run CUDA 12.8 code;
#   2. a Java 17+ runtime (JAVA_HOME/bin/java or java on PATH);
#   3. paft's classes + test classes + dependency jars, found in this order:
#        $PAFT_CLASSPATH; target/gpu-bench-lib/ (from `gpu.sh bundle`); target/classes +
#        target/test-classes + target/bench.classpath (a built checkout with ~/.m2; `mvn -o test-compile`);
#      the pytorch-jni-2.7.1-0.36.0 jar carries the cu128 JNI library for linux-x86_64;
#   4. a CUDA build of libtorch 2.7.1 (cu128) that DJL can load, found in this order:
#        $PYTORCH_LIBRARY_PATH; ~/.djl.ai/pytorch/2.7.1-cu128-linux-x86_64/; the lib/ folder of a pip
#        torch==2.7.1+cu128 importable by python3; /opt/libtorch/lib; /usr/local/libtorch/lib.
#      It must hold libtorch.so, libtorch_cuda.so and libc10_cuda.so. The script then exports
#      PYTORCH_LIBRARY_PATH, PYTORCH_VERSION=2.7.1, PYTORCH_FLAVOR=cu128 and runs DJL offline.
set -uo pipefail
cd "$(dirname "$0")/../.."
STEPS="${STEPS:-3}"
CONFIG="${CONFIG:-gpu1b}"

if [ "${1:-}" = "bundle" ]; then
  dir="${2:-target/gpu-bench-lib}"
  mvn -B -q -o test-compile || exit 1
  [ -s target/bench.classpath ] || mvn -B -q -o dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
  rm -rf "$dir"; mkdir -p "$dir/jars"
  cp -r target/classes "$dir/classes"; cp -r target/test-classes "$dir/test-classes"
  tr ':' '\n' < target/bench.classpath | grep -v 'pytorch-native-cpu' | xargs -I{} cp {} "$dir/jars/"
  du -sh "$dir"; exit 0
fi

fail=0
say() { echo "gpu.sh: $*"; }

# 1. GPU
if command -v nvidia-smi >/dev/null; then
  GPU_NAME=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
  [ -n "$GPU_NAME" ] || { say "missing: nvidia-smi found but it lists no GPU (driver not loaded?)"; fail=1; }
else
  say "missing: nvidia-smi (no NVIDIA driver on this machine)"; fail=1; GPU_NAME=""
fi

# 2. Java
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if ! command -v "$JAVA" >/dev/null; then
  say "missing: a Java 17+ runtime (set JAVA_HOME or put java on PATH; Debian: apt-get install -y openjdk-17-jre-headless)"; fail=1
else
  jv=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${jv:-0}" -ge 17 ] 2>/dev/null || { say "missing: Java 17+ (found version '${jv:-?}' at $(command -v "$JAVA"))"; fail=1; }
fi

# 3. class path
CP=""
if [ -n "${PAFT_CLASSPATH:-}" ]; then CP="$PAFT_CLASSPATH"
elif [ -d target/gpu-bench-lib/jars ]; then CP="target/gpu-bench-lib/classes:target/gpu-bench-lib/test-classes:target/gpu-bench-lib/jars/*"
elif [ -d target/test-classes/dev/paft/bench ] && [ -s target/bench.classpath ]; then
  CP="target/classes:target/test-classes:$(tr ':' '\n' < target/bench.classpath | grep -v pytorch-native-cpu | paste -sd:)"
fi
if [ -z "$CP" ]; then
  say "missing: paft's classes and jars: set PAFT_CLASSPATH, or run 'scripts/bench/gpu.sh bundle' on a build machine and copy target/gpu-bench-lib here, or build here with 'mvn -o test-compile'"; fail=1
elif ! ls ${CP//:/ } 2>/dev/null | grep -q 'pytorch-jni'; then
  say "missing: the ai.djl.pytorch:pytorch-jni:2.7.1-0.36.0 jar on the class path ($CP)"; fail=1
fi

# 4. CUDA libtorch 2.7.1
has_libtorch() { [ -f "$1/libtorch.so" ] && [ -f "$1/libtorch_cuda.so" ] && [ -f "$1/libc10_cuda.so" ]; }
LT=""
cands=("${PYTORCH_LIBRARY_PATH:-}" "$HOME/.djl.ai/pytorch/2.7.1-cu128-linux-x86_64")
pyt=$(python3 -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"), torch.__version__)' 2>/dev/null || true)
[ -n "$pyt" ] && case "$pyt" in *" 2.7.1+cu128"*) cands+=("${pyt%% *}");; *) say "note: python3's torch is ${pyt##* }, not 2.7.1+cu128: not used";; esac
cands+=(/opt/libtorch/lib /usr/local/libtorch/lib)
for c in "${cands[@]}"; do
  [ -n "$c" ] && has_libtorch "$c" && { LT="$c"; break; }
done
if [ -z "$LT" ]; then
  say "missing: a CUDA libtorch 2.7.1 (cu128): a folder with libtorch.so, libtorch_cuda.so and libc10_cuda.so."
  say "         Looked in: ${cands[*]}. Set PYTORCH_LIBRARY_PATH to it (e.g. the lib/ of libtorch-cxx11-abi-shared-with-deps-2.7.1+cu128.zip"
  say "         or of a pip torch==2.7.1+cu128); DJL cannot download it here (no internet)."
  fail=1
fi
[ "$fail" = 0 ] || exit 2

export PYTORCH_LIBRARY_PATH="$LT" PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=cu128 DJL_OFFLINE=true OPT_OUT_TRACKING=true
say "GPU: $GPU_NAME"
say "libtorch: $LT"
say "config $CONFIG, $STEPS timed steps; $(date -u +%Y-%m-%dT%H:%MZ)"
OUT="${OUT_DIR:-target/gpu-bench}"; mkdir -p "$OUT"; RES="$OUT/results.txt"; : > "$RES"
run() { "$JAVA" ${BENCH_JAVA_OPTS:--Xmx8g} -Dai.djl.offline=true -cp "$CP" dev.paft.bench.TrainBench "$@" 2>&1; }
run matmul 8192 10 cuda | tee "$OUT/matmul.log" | grep RESULT | tee -a "$RES"
run random "$CONFIG" "$STEPS" cuda | tee "$OUT/train.log" | grep -e RESULT -e device -e built | sed "s/^RESULT.*/& config=$CONFIG/" | tee -a "$RES"
grep -q 'kind=sft' "$RES" || { say "the training run failed; see $OUT/train.log:"; tail -30 "$OUT/train.log"; exit 1; }
echo "RESULT kind=gpu name=\"$GPU_NAME\"" >> "$RES"
python3 scripts/bench/summarize.py "$RES" 2>/dev/null || { say "(python3 missing: raw results in $RES)"; cat "$RES"; }
