#!/usr/bin/env bash
# paft on an NVIDIA GPU, no internet needed: the same LoRA SFT and DPO training steps as run-all.sh, paft against
# plain PyTorch on the same weights and batch (loss and grad norm checked first), with a 1B-class config:
# hidden 2048, 16 layers, 32 heads, 8 KV heads, MLP 5632, vocab 32000, seq 1024, batch 4, LoRA r 8 on q,k,v,o,
# float32 (~845M parameters, 3.4 GB). Prints tokens/s and model-FLOPs utilization against the card's float32
# matmul rate measured in the same run; then the same steps with training.precision bf16 (bf16 weights, fused
# attention) against PyTorch in bf16 with F.scaled_dot_product_attention, MFU against the bf16 matmul rate; then the
# Mistral-7B shape with zephyr settings (seq 2048, batch 4, checkpointing, bf16) through the real CLI, with the peak
# GPU memory (nvidia-smi, polled) and tokens/s; then checks the real CLI on the GPU: `paft eval` of the bundled demo
# model on cuda against the same command on cpu, and `paft demo --device cuda`.
#
# libtorch, two routes (docs/ENGINE-NOTES.md, "One libtorch"):
#   javacpp:  paft's own libtorch 2.7.1 from JavaCPP's jars; on a GPU the `mvn -Pcuda` natives
#             (org.bytedeco:pytorch:...:linux-x86_64-gpu 616 MB, cuda 8 MB, cuda-redist 362 MB of jars; the shaded
#             -Pcuda paft.jar is 1.07 GB; `CUDA=1 gpu.sh bundle`). Everything runs, bf16 (b3) included. Besides the
#             NVIDIA driver the GPU machine needs CUDA 12 cuBLAS, cuBLASLt, cuSPARSE, cuSOLVER and cuDNN 9 on
#             LD_LIBRARY_PATH: JavaCPP's jars for those were never released to Maven Central (checked 2026-12-04 on a
#             machine without a GPU: without them paft stops naming them; with them the jar loads, DJL's cu128 JNI
#             runs on the same libtorch and CPU training matches the CPU jar; docs/ENGINE-NOTES.md, "The -Pcuda jar").
#             Blocker for the lent GPU machines (no network, 64 MiB in, torch 2.11+cu130): the smallest set that
#             loads is ~3.6 GB uncompressed (libtorch_cuda.so alone 822.8 MB, 314.4 MB with xz -6; libtorch_cpu.so
#             312.1 MB, 48.1 MB xz; the linked cuda-redist part 0.68 GB; cuBLAS+Lt 0.6 GB, cuDNN 9 ~0.87 GB,
#             cuSPARSE 0.29 GB, cuSOLVER 0.15 GB), and torch 2.11+cu130's CUDA 13 libraries have other sonames
#             (.so.13), so they cannot stand in: the javacpp route cannot run there; the external route can.
#   external: no CUDA jars on the class path: a CUDA libtorch DJL can load (below, 4), through DJL alone (external
#             mode: float32 with explicit attention); b3 is skipped, b4 runs with float32 compute.
#
#   scripts/bench/gpu.sh                       # on the GPU machine (STEPS=3 CONFIG=gpu1b DEMO=1 by default)
#   scripts/bench/gpu.sh bundle FILE.tar.xz    # on a build machine: everything the GPU machine lacks, in one file
#        JRE=1          also put a jlink'ed Java 17 runtime in it (~18 MB of the file)
#        CUDA=1         put JavaCPP's CUDA libtorch in it (mvn -Pcuda; the javacpp route; ~1 GB of jars and still
#                       without cuBLAS/cuDNN/cuSPARSE/cuSOLVER, far over a 64 MiB transfer); without it the bundle has
#                       no native libtorch (the external route, ~50 MB)
#        DJL_SRC=DIR    also put DJL 0.36.0's JNI sources in it (DIR = a checkout of deepjavalibrary/djl at
#                       v0.36.0), for the external route on a machine whose only libtorch is a pip torch other than 2.7.1
#   GPU_BUNDLE=FILE.tar.xz scripts/bench/gpu.sh   # unpacks the bundle into target/gpu-bench-lib first
#   GPU_BENCH_DEVICE=cpu CONFIG=tiny DEMO=0 scripts/bench/gpu.sh   # rehearse the whole path on a CPU machine
#   TF32=0 skips the TF32 check (b2: Tf32Check's float32 matmul with and without TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1)
#   BF16=0 skips the bf16 steps (b3); ZEPHYR=0 skips the Mistral-7B-shape memory run (b4)
#
# What it needs, in the order it looks (whatever is missing is named, exit 2):
#   1. an NVIDIA GPU (nvidia-smi);
#   2. Java 17+: target/gpu-bench-lib/jre (from the bundle), JAVA_HOME, or java on PATH;
#   3. paft's classes and jars: PAFT_CLASSPATH, target/gpu-bench-lib (the bundle), or a built checkout
#      (target/classes, target/test-classes and target/model-bench-cuda.classpath from
#      `mvn -Pcuda dependency:build-classpath -Dmdep.outputFile=target/model-bench-cuda.classpath`);
#   4. javacpp route: JavaCPP's CUDA libtorch on that class path (pytorch-2.7.1-1.5.12-linux-x86_64-gpu.jar); else the
#      external route: a CUDA libtorch DJL 0.36 can load:
#      a. PYTORCH_LIBRARY_PATH (+ PYTORCH_VERSION / PYTORCH_FLAVOR, default 2.7.1 / cu128), or
#         ~/.djl.ai/pytorch/2.7.1-cu128-linux-x86_64, or python3's torch if it is 2.7.1+cu128: DJL's own JNI
#         for 2.7.1 (in the pytorch-jni jar) is used;
#      b. else python3's torch of any other version, with the bundle's DJL JNI sources and g++: the JNI is
#         built against it (scripts/bench/gpu-jni.sh, about a minute on 16 cores, cached in target/gpu-bench).
#   5. python3 with torch >= 2.5 (the PyTorch side; optional: without it only paft's numbers are printed).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
cd "$PAFT_ROOT"
ROOT=$(pwd)
STEPS="${STEPS:-3}"
CONFIG="${CONFIG:-gpu1b}"
DEV="${GPU_BENCH_DEVICE:-cuda}"
DEMO="${DEMO:-1}"     # 0: skip `paft demo --device cuda`
BENCH="${BENCH:-1}"   # 0: skip the paft-vs-PyTorch training steps
EVAL="${EVAL:-1}"     # 0: skip the eval cpu-vs-device check
LIB=target/gpu-bench-lib
PY="${PYTHON:-python3}"   # the one with torch (the GPU image: python3)
say() { echo "gpu.sh: $*"; }

if [ "${1:-}" = "bundle" ]; then
  out="${2:?usage: gpu.sh bundle FILE.tar.xz}"; case "$out" in /*) ;; *) out="$ROOT/$out";; esac
  mvn -B -q -o test-compile || exit 1
  if [ "${CUDA:-0}" = 1 ]; then   # the CUDA natives (first time: a download from Maven Central, ~1.5 GB)
    mvn -B -q -Pcuda dependency:build-classpath -Dmdep.outputFile=target/model-bench-cuda.classpath >/dev/null || exit 1
    BCP=target/model-bench-cuda.classpath; DROP=/nothing-to-drop
  else                             # external route: no native libtorch in the bundle (the class jars stay)
    [ -s target/model-bench.classpath ] || mvn -B -q -o dependency:build-classpath -Dmdep.outputFile=target/model-bench.classpath >/dev/null
    BCP=target/model-bench.classpath; DROP='-linux-x86_64.jar$'
  fi
  rm -rf "$LIB"; mkdir -p "$LIB/jars"
  jdk="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"   # for jlink, jni.h
  cp -r target/classes "$LIB/classes"; cp -r target/test-classes "$LIB/test-classes"
  # the CUDA libtorch instead of the CPU one, no test framework; the tokenizers jar keeps only its linux-x86_64 natives
  tr ':' '\n' < "$BCP" | grep -v -e /junit -e opentest4j -e apiguardian -e "org/bytedeco/.*$DROP" \
    | xargs -I{} cp {} "$LIB/jars/"
  tok=$(ls "$LIB"/jars/tokenizers-*.jar 2>/dev/null | head -1)
  if [ -n "$tok" ]; then
    zip -q -d "$tok" 'native/lib/osx-*' 'native/lib/win-*' 'native/lib/linux-aarch64/*' >/dev/null 2>&1 || true
  fi
  if [ "${JRE:-0}" = 1 ]; then
    "$jdk/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.xml,java.desktop,java.sql,jdk.unsupported,java.scripting,jdk.zipfs,jdk.management,jdk.crypto.ec \
      --strip-debug --strip-native-debug-symbols=objcopy=/usr/bin/objcopy --no-header-files --no-man-pages --output "$LIB/jre" || exit 1
  fi
  if [ -n "${DJL_SRC:-}" ]; then
    n="$LIB/djl-jni"; mkdir -p "$n/native" "$n/include" "$n/jni/linux" "$n/api/djl"
    cp "$DJL_SRC"/engines/pytorch/pytorch-native/src/main/native/* "$n/native/" || exit 1
    cp "$DJL_SRC"/api/src/main/native/djl/utils.h "$n/api/djl/"
    cp "$jdk/include/jni.h" "$n/jni/"; cp "$jdk/include/linux/jni_md.h" "$n/jni/linux/"
    api=$(tr ':' '\n' < target/test.classpath | grep -e '/api-0.36.0.jar' -e slf4j-api -e gson | paste -sd:)
    javac -cp "$api" -sourcepath "$DJL_SRC/engines/pytorch/pytorch-engine/src/main/java" -h "$n/include" -d "$n/classes" \
      "$DJL_SRC/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java" || exit 1
    rm -rf "$n/classes"
  fi
  tar -C target -cf - gpu-bench-lib | xz -T0 -6 > "$out" || exit 1
  du -sh "$LIB"; ls -la "$out"; exit 0
fi

if [ -n "${GPU_BUNDLE:-}" ]; then
  rm -rf "$LIB"; mkdir -p target; xz -dc "$GPU_BUNDLE" | tar -C target -xf - || { say "cannot unpack $GPU_BUNDLE"; exit 2; }
fi

fail=0
# 1. GPU
GPU_NAME="none (GPU_BENCH_DEVICE=cpu rehearsal)"
if [ "$DEV" != cpu ]; then
  if command -v nvidia-smi >/dev/null; then
    GPU_NAME=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
    [ -n "$GPU_NAME" ] || { say "missing: nvidia-smi found but it lists no GPU (driver not loaded?)"; fail=1; }
  else
    say "missing: nvidia-smi (no NVIDIA driver on this machine)"; fail=1
  fi
fi

# 2. Java
if [ -x "$LIB/jre/bin/java" ]; then JAVA="$LIB/jre/bin/java"; else JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"; fi
if ! command -v "$JAVA" >/dev/null; then
  say "missing: a Java 17+ runtime (bundle one with JRE=1, set JAVA_HOME, or put java on PATH)"; fail=1
else
  jv=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${jv:-0}" -ge 17 ] 2>/dev/null || { say "missing: Java 17+ (found version '${jv:-?}' at $JAVA)"; fail=1; }
fi

# 3. class path
CP=""
if [ -n "${PAFT_CLASSPATH:-}" ]; then CP="$PAFT_CLASSPATH"
elif [ -d "$LIB/jars" ]; then CP="$LIB/classes:$LIB/test-classes:$LIB/jars/*"
elif [ -d target/test-classes/dev/paft/bench ] && [ -s target/model-bench-cuda.classpath ]; then
  CP="target/classes:target/test-classes:$(cat target/model-bench-cuda.classpath)"
elif [ -d target/test-classes/dev/paft/bench ] && [ -s target/model-bench.classpath ]; then
  CP="target/classes:target/test-classes:$(cat target/model-bench.classpath)"
fi
[ -n "$CP" ] || { say "missing: paft's classes and jars: PAFT_CLASSPATH, GPU_BUNDLE (gpu.sh bundle), or a built checkout"; fail=1; }

# 4. libtorch: the javacpp route when JavaCPP's CUDA jar is on the class path (or on a CPU rehearsal without
# PYTORCH_LIBRARY_PATH), else the external route (external mode: DJL alone, float32)
PYT=$($PY -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"), torch.__version__, torch.version.cuda or "none")' 2>/dev/null || true)
JCP=$(echo "$CP" | tr ':' '\n' | while read -r e; do case "$e" in *'*') ls ${e%/\*}/pytorch-*-linux-x86_64-gpu.jar 2>/dev/null;; *pytorch-*-linux-x86_64-gpu.jar) echo "$e";; esac; done | head -1)
if [ -n "$JCP" ] || { [ "$DEV" = cpu ] && [ -z "${PYTORCH_LIBRARY_PATH:-}" ]; }; then
  ROUTE=javacpp; LT="JavaCPP ${JCP:-CPU libtorch}"
  for v in PYTORCH_LIBRARY_PATH PYTORCH_VERSION PYTORCH_FLAVOR; do
    [ -z "${!v:-}" ] || { say "unsetting $v=${!v}: the javacpp route loads paft's own libtorch"; unset "$v"; }
  done
  [ "$fail" = 0 ] || exit 2
  export DJL_OFFLINE=true OPT_OUT_TRACKING=true OMP_WAIT_POLICY=PASSIVE
else
ROUTE=external
has_libtorch() { [ -f "$1/libtorch.so" ] && { [ "$DEV" = cpu ] || [ -f "$1/libtorch_cuda.so" ]; }; }
LT=""
if [ -n "${PYTORCH_LIBRARY_PATH:-}" ] && has_libtorch "$PYTORCH_LIBRARY_PATH"; then
  LT="$PYTORCH_LIBRARY_PATH"; export PYTORCH_VERSION="${PYTORCH_VERSION:-2.7.1}" PYTORCH_FLAVOR="${PYTORCH_FLAVOR:-cu128}"
elif has_libtorch "$HOME/.djl.ai/pytorch/2.7.1-cu128-linux-x86_64"; then
  LT="$HOME/.djl.ai/pytorch/2.7.1-cu128-linux-x86_64"; export PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=cu128
elif [ -n "$PYT" ] && case "$PYT" in *" 2.7.1+cu128 "*) true;; *) false;; esac; then
  LT="${PYT%% *}"; export PYTORCH_VERSION=2.7.1 PYTORCH_FLAVOR=cu128
elif [ -n "$PYT" ] && { [ "$DEV" = cpu ] || [ "${PYT##* }" != none ]; } && [ -d "$LIB/djl-jni" ]; then
  say "python3's torch is ${PYT#* } (not 2.7.1+cu128): building DJL's JNI against it"
  JNI_OUT="target/gpu-bench/jni-$(echo "${PYT#* }" | tr ' +' '--')"
  if [ ! -f "$JNI_OUT/env.sh" ]; then
    scripts/bench/gpu-jni.sh "$LIB/djl-jni" "$JNI_OUT" 2>&1 | tee target/gpu-bench-jni.log || true
  fi
  if [ -f "$JNI_OUT/env.sh" ]; then . "$JNI_OUT/env.sh"; LT="$PYTORCH_LIBRARY_PATH"; else say "the JNI build failed (target/gpu-bench-jni.log)"; fi
fi
if [ -z "$LT" ]; then
  say "missing: a CUDA libtorch DJL can load: PYTORCH_LIBRARY_PATH, ~/.djl.ai/pytorch/2.7.1-cu128-linux-x86_64,"
  say "         python3's torch 2.7.1+cu128, or python3's torch ${PYT#* } plus a bundle made with DJL_SRC (JNI sources)"
  fail=1
fi
[ "$fail" = 0 ] || exit 2
export PYTORCH_LIBRARY_PATH="$LT" DJL_OFFLINE=true OPT_OUT_TRACKING=true OMP_WAIT_POLICY=PASSIVE
# DJL counts GPUs through libcudart (JNA): offer the one the CUDA libtorch depends on
if [ "$DEV" != cpu ]; then
  crt=$(ldd "$LT/libtorch_cuda.so" 2>/dev/null | sed -n 's/.*libcudart[^ ]* => \([^ ]*\).*/\1/p' | head -1)
  if [ -n "$crt" ]; then mkdir -p target/gpu-bench/cudart; ln -sf "$crt" target/gpu-bench/cudart/libcudart.so
    export LD_LIBRARY_PATH="$ROOT/target/gpu-bench/cudart:$(dirname "$crt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
fi

fi

OUT="${OUT_DIR:-target/gpu-bench}"; mkdir -p "$OUT"; RES="$OUT/results.txt"; : > "$RES"
say "GPU: $GPU_NAME"
say "java: $("$JAVA" -version 2>&1 | head -1)"
say "libtorch: $LT (route $ROUTE)"
say "config $CONFIG, $STEPS timed steps, device $DEV; $(date -u +%Y-%m-%dT%H:%MZ)"
jrun() { "$JAVA" ${BENCH_JAVA_OPTS:--Xmx16g} -Dai.djl.offline=true -cp "$CP" "$@" 2>&1; }
paft() { jrun dev.paft.cli.Paft "$@"; }
tag() { sed "s/^RESULT.*/& config=$CONFIG/"; }
MM=8192; [ "$DEV" = cpu ] && MM=1024
HAVE_TORCH=0; [ -n "$PYT" ] && HAVE_TORCH=1

if [ "$BENCH" = 1 ]; then
# a. matmul ceiling, both sides
jrun dev.paft.bench.TrainBench matmul $MM 10 "$DEV" | tee "$OUT/matmul.log" | grep RESULT | tee -a "$RES"
[ "$HAVE_TORCH" = 1 ] && PAFT_DEVICE=$DEV $PY scripts/bench/torch_train.py matmul $MM 10 2>&1 | grep RESULT | tee -a "$RES"

# b. the same weights and batch on disk, then paft and PyTorch steps
BDIR="$OUT/data-$CONFIG"
[ -f "$BDIR/batch.json" ] || jrun dev.paft.bench.TrainBench prepare "$CONFIG" "$BDIR" | tail -3
jrun -Dbench.device="$DEV" dev.paft.bench.TrainBench run "$BDIR" "$STEPS" | tee "$OUT/train-paft.log" \
  | grep -e RESULT -e '^device' | tag | tee -a "$RES"
grep -q 'impl=paft kind=sft' "$RES" || { say "paft's training run failed; $OUT/train-paft.log:"; grep -v '^\s*at ' "$OUT/train-paft.log" | tail -30; }
if [ "$HAVE_TORCH" = 1 ]; then
  PAFT_DEVICE=$DEV PAFT_THREADS=$(nproc) $PY scripts/bench/torch_train.py run "$BDIR" "$STEPS" 2>&1 | tee "$OUT/train-torch.log" \
    | grep RESULT | tag | tee -a "$RES"
fi
echo "RESULT kind=gpu name=\"$GPU_NAME\"" >> "$RES"
$PY scripts/bench/summarize.py "$RES" 2>/dev/null | tee "$OUT/table.txt" || cat "$RES"
fi

# b2. TF32 (issue 13): scripts/paft sets TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 for CUDA's tensor cores; libtorch reads it
# once at start. The same float32 matmul with and without it: TF32 is on when the error grows to ~1e-3 (from ~1e-6)
# and the time drops. TF32=0 skips this.
if [ "${TF32:-1}" = 1 ]; then
  for ov in 0 1; do
    if [ "$ov" = 1 ]; then export TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1; else unset TORCH_ALLOW_TF32_CUBLAS_OVERRIDE; fi
    jrun dev.paft.bench.Tf32Check "$MM" 10 "$DEV" | tee "$OUT/tf32-$ov.log" | grep RESULT | tee -a "$RES"
  done
  unset TORCH_ALLOW_TF32_CUBLAS_OVERRIDE
  $PY - "$OUT/tf32-0.log" "$OUT/tf32-1.log" <<'EOF2' || say "TF32 comparison failed"
import re, sys
def rd(f):
    line = [l for l in open(f) if l.startswith("RESULT")][0]
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}
off, on = rd(sys.argv[1]), rd(sys.argv[2])
e0, e1, t0, t1 = float(off["max_rel_err"]), float(on["max_rel_err"]), float(off["ms"]), float(on["ms"])
active = e1 > 1e-4 > e0 * 10
print(f"gpu.sh: TF32 override {'ACTIVE' if active else 'NOT active'}: max rel err {e0:.1e} -> {e1:.1e}, "
      f"matmul {t0:.2f} -> {t1:.2f} ms ({t0 / t1:.2f}x)")
EOF2
fi

# b3. training.precision bf16 (issue 14): the same steps with bf16 weights and compute (fused attention), against
# PyTorch in bf16 with F.scaled_dot_product_attention (torch_train.py, PAFT_PRECISION=bf16); MFU against the bf16
# matmul rate of the same run. Results: $OUT/results-bf16.txt, table $OUT/table-bf16.txt.
if [ "${BF16:-1}" = 1 ] && [ "$BENCH" = 1 ] && [ "$ROUTE" = external ]; then
  say "b3 skipped: bf16 needs JavaCPP's CUDA libtorch on the class path (make the bundle with CUDA=1: mvn -Pcuda)"
elif [ "${BF16:-1}" = 1 ] && [ "$BENCH" = 1 ]; then
  R16="$OUT/results-bf16.txt"; : > "$R16"
  jrun -Dbench.matmul.dtype=bf16 dev.paft.bench.TrainBench matmul $MM 10 "$DEV" | grep RESULT | tee -a "$R16"
  [ "$HAVE_TORCH" = 1 ] && PAFT_DEVICE=$DEV PAFT_MATMUL_DTYPE=bf16 $PY scripts/bench/torch_train.py matmul $MM 10 2>&1 | grep RESULT | tee -a "$R16"
  jrun -Dbench.device="$DEV" -Dbench.precision=bf16 -Dbench.dtype=bf16 dev.paft.bench.TrainBench run "$BDIR" "$STEPS" \
    | tee "$OUT/train-paft-bf16.log" | grep RESULT | sed 's/impl=paft-bf16-bf16/impl=paft/' | tag | tee -a "$R16"
  grep -q 'impl=paft kind=sft' "$R16" || { say "paft's bf16 training run failed; $OUT/train-paft-bf16.log:"; grep -v '^\s*at ' "$OUT/train-paft-bf16.log" | tail -30; }
  if [ "$HAVE_TORCH" = 1 ]; then
    PAFT_DEVICE=$DEV PAFT_PRECISION=bf16 PAFT_THREADS=$(nproc) $PY scripts/bench/torch_train.py run "$BDIR" "$STEPS" 2>&1 \
      | tee "$OUT/train-torch-bf16.log" | grep RESULT | tag | tee -a "$R16"
  fi
  echo "RESULT kind=gpu name=\"$GPU_NAME\"" >> "$R16"
  say "bf16 (MFU against the bf16 matmul rate):"
  $PY scripts/bench/summarize.py "$R16" 2>/dev/null | tee "$OUT/table-bf16.txt" || cat "$R16"
fi

# b4. the Mistral-7B shape with zephyr settings through the real CLI (issue 14's memory goal: peak GPU memory <= 24 GiB):
# zero weights in a sparse file (make_sparse_model.py), seq 2048, batch 4, checkpointing, model.dtype and
# training.precision bf16, 2 optimizer steps; nvidia-smi polled every 0.2 s for the peak, tokens/s from metrics.jsonl.
if [ "${ZEPHYR:-1}" = 1 ] && [ "$DEV" != cpu ]; then
  M7="$OUT/model-7b"; PREC=bf16; [ "$ROUTE" = external ] && PREC=fp32
  [ -f "$M7/model.safetensors" ] || $PY scripts/bench/make_sparse_model.py 7b "$M7" --dtype BF16 >/dev/null || say "cannot make the 7b model"
  for kind in sft dpo; do
    if [ "$kind" = sft ]; then cmd=train-sft; data="$M7/sft.jsonl"; else cmd=train-dpo; data="$M7/pref.jsonl"; fi
    rm -rf "$OUT/z7-$kind"; peak="$OUT/z7-$kind.mem"; : > "$peak"
    ( while :; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1 >> "$peak"; sleep 0.2; done ) & poll=$!
    t0=$(date +%s)
    paft "$cmd" --device "$DEV" --model "$M7" --train "$data" -o "$OUT/z7-$kind" --max-steps 2 --batch-size 4 --grad-accum 1 \
      --max-length 2048 --set model.dtype=bf16 --set training.precision=$PREC --set training.gradient_checkpointing=true \
      --set training.save_steps=0 --set training.log_steps=1 --set training.eval_steps=0 --set data.eval=null > "$OUT/z7-$kind.log"
    rc=$?; kill $poll 2>/dev/null; wait $poll 2>/dev/null
    base=$(head -1 "$peak"); max=$(sort -n "$peak" | tail -1)
    tps=$(tail -1 "$OUT/z7-$kind/metrics.jsonl" 2>/dev/null | $PY -c 'import json,sys; print(json.loads(sys.stdin.read())["tokens_per_s"])' 2>/dev/null)
    echo "RESULT kind=zephyr7b-$kind precision=$PREC route=$ROUTE exit=$rc peak_gpu_mib=$max before_mib=$base tokens_per_s=${tps:-?} wall_s=$(( $(date +%s) - t0 ))" | tee -a "$RES"
    [ "$rc" = 0 ] || grep -v '^\s*at ' "$OUT/z7-$kind.log" | tail -20
  done
fi

# c. the real CLI on the device: eval of the bundled demo model on $DEV against cpu, then the demo
D=src/main/resources/dev/paft/demo
if [ "$EVAL" = 1 ]; then
for d in cpu "$DEV"; do
  paft eval --device "$d" --model "$D/model" --ppl "$D/data/sft_test.jsonl" --prefs "$D/data/pref_test.jsonl" \
    --mc "$D/data/task_mc.jsonl" --mc "$D/data/pref_mc.jsonl" --format json --output-json "$OUT/eval-$d.json" > "$OUT/eval-$d.log"
  say "paft eval --device $d: exit $?"
done
$PY - "$OUT/eval-cpu.json" "$OUT/eval-$DEV.json" <<'EOF' || say "eval comparison failed"
import json, sys
def flat(o, p=""):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from flat(v, f"{p}/{k}" if p else k)
    elif isinstance(o, (int, float)) and not isinstance(o, bool):
        yield p, float(o)
a, b = (dict(flat(json.load(open(f)))) for f in sys.argv[1:3])
worst = max((abs(a[k] - b[k]) / max(1e-12, abs(a[k])), k) for k in a if k in b)
print(f"gpu.sh: eval {len(a)} numbers, cpu vs device: worst relative difference {worst[0]:.2e} ({worst[1]})")
for k in sorted(a):
    if "acc" in k or "perplexity" in k or "ppl" in k:
        print(f"  {k:45s} cpu {a[k]:.6f}  device {b.get(k, float('nan')):.6f}")
EOF
fi
if [ "$DEMO" = 1 ]; then
  rm -rf "$OUT/demo"
  t0=$(date +%s)
  timeout "${DEMO_TIMEOUT:-240}" "$JAVA" -Xmx8g -Dai.djl.offline=true -cp "$CP" dev.paft.cli.Paft demo --device "$DEV" \
    -o "$OUT/demo" ${DEMO_ARGS:-} > "$OUT/demo.log" 2>&1
  say "paft demo --device $DEV ${DEMO_ARGS:-}: exit $?, $(( $(date +%s) - t0 )) s"
  grep -v '^\s*at ' "$OUT/demo.log" | tail -40
fi
