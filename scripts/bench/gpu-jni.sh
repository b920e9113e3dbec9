#!/usr/bin/env bash
# Builds DJL 0.36.0's PyTorch JNI library (libdjl_torch.so) against the libtorch of python3's torch, for a
# machine whose only libtorch is a pip torch other than 2.7.1 (DJL 0.36's own JNI is built for 2.7.1 only).
#
#   scripts/bench/gpu-jni.sh SRC OUT_DIR
#
# SRC is the djl-jni/ folder of `scripts/bench/gpu.sh bundle` (DJL's pytorch-native sources at v0.36.0, the
# JNI header javac generated from the 0.36.0 PyTorchLibrary class, jni.h): DJL's code is read from a DJL
# checkout at bundle time, not kept in this repository. Needs g++ (C++17/20) and torch's headers (pip torch
# ships them). Files are compiled in parallel; a file that does not compile against this torch is retried
# with the failing functions replaced by ones that throw (scripts/bench/jni_stub.py), and every such
# replacement is printed: paft uses few of DJL's 265 native functions, and a stubbed one it needs fails
# loudly at its first call. Prints the variables to export for DJL.
set -uo pipefail
SRC="$(cd "$1" && pwd)"; OUTDIR="$2"; mkdir -p "$OUTDIR/obj"; OUTDIR="$(cd "$OUTDIR" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY=${PYTHON:-python3}
read -r TORCH_DIR ABI TV CU < <($PY -c 'import torch,os;print(os.path.dirname(torch.__file__), int(torch._C._GLIBCXX_USE_CXX11_ABI), torch.__version__.split("+")[0], torch.version.cuda or "none")') \
  || { echo "gpu-jni: python3 cannot import torch"; exit 2; }
LIBDIR=${TORCH_LIBDIR:-$TORCH_DIR/lib}
case "$TV" in 1.*) DEFS=-DV1_13_X; STDS="c++17";; 2.[0-9].*) DEFS=""; STDS="c++17 c++20";; *) DEFS=""; STDS="c++20 c++17";; esac
command -v g++ >/dev/null || { echo "gpu-jni: g++ not found"; exit 2; }
[ -f "$TORCH_DIR/include/torch/script.h" ] || [ -f "$TORCH_DIR/include/torch/csrc/api/include/torch/script.h" ] || { echo "gpu-jni: no torch headers under $TORCH_DIR/include"; exit 2; }
echo "gpu-jni: torch $TV (cuda $CU) at $TORCH_DIR, cxx11 abi $ABI, g++ $(g++ -dumpfullversion), $(nproc) cores"
NATIVE="$SRC/native"
inc="-I$TORCH_DIR/include -I$TORCH_DIR/include/torch/csrc/api/include -I$SRC/include -I$SRC/jni -I$SRC/jni/linux -I$SRC/api -I$NATIVE"

compile() { # file std -> 0 if compiled
  local f="$1" std="$2" b; b=$(basename "$f" .cc)
  g++ -O2 -fPIC -std="$std" -D_GLIBCXX_USE_CXX11_ABI="$ABI" $DEFS -w $inc -c "$f" -o "$OUTDIR/obj/$b.o" 2> "$OUTDIR/obj/$b.$std.err"
}
export -f compile; export OUTDIR ABI DEFS inc
PROBE=ai_djl_pytorch_jni_PyTorchLibrary_torch_random_sampling   # small, and includes torch/torch.h
STD=""
for s in $STDS; do
  # a wrong language standard fails in torch's own headers, so in every file: the probe decides
  ls "$NATIVE"/*.cc | xargs -P "$(nproc)" -I{} bash -c 'compile {} '"$s"' || echo "FAILED {}"' > "$OUTDIR/failed.txt"
  if [ -f "$OUTDIR/obj/$PROBE.o" ]; then STD=$s; break; fi
  echo "gpu-jni: torch's headers do not compile with -std=$s"
done
[ -n "$STD" ] || { echo "gpu-jni: torch's headers compile with none of: $STDS"; head -c 3000 "$OUTDIR/obj/$PROBE".*.err; exit 1; }
cat "$OUTDIR/failed.txt"
for f in $(sed -n 's/^FAILED //p' "$OUTDIR/failed.txt"); do
  b=$(basename "$f" .cc); work="$OUTDIR/patched/$b.cc"; mkdir -p "$OUTDIR/patched"; cp "$f" "$work"
  echo "gpu-jni: $b does not compile against torch $TV; first errors:"; grep -m5 "error" "$OUTDIR/obj/$b.$STD.err" | cut -c1-300
  cp "$OUTDIR/obj/$b.$STD.err" "$OUTDIR/patched/$b.round0.err"
  ok=0
  for round in 1 2 3 4 5 6; do
    $PY "$HERE/jni_stub.py" "$work" "$OUTDIR/patched/$b.round$((round - 1)).err" "$work.new" "$TV" && mv "$work.new" "$work"
    if g++ -O2 -fPIC -std="$STD" -D_GLIBCXX_USE_CXX11_ABI="$ABI" $DEFS -w $inc -c "$work" -o "$OUTDIR/obj/$b.o" 2> "$OUTDIR/patched/$b.round$round.err"; then ok=1; break; fi
  done
  [ "$ok" = 1 ] || { echo "gpu-jni: $b still fails after stubbing"; exit 1; }
done
n=$(ls "$OUTDIR"/obj/*.o | wc -l); total=$(ls "$NATIVE"/*.cc | wc -l)
[ "$n" = "$total" ] || { echo "gpu-jni: compiled $n of $total files"; exit 1; }
g++ -shared -o "$OUTDIR/libdjl_torch.so" "$OUTDIR"/obj/*.o -L"$LIBDIR" -ltorch -ltorch_cpu -lc10 -Wl,-rpath,"$LIBDIR" || exit 1
FLAVOR=cpu; [ "$CU" != none ] && FLAVOR="cu$(echo "$CU" | tr -d .)"
# DJL looks for <ENGINE_CACHE_DIR>/pytorch/<version>-<flavor>-linux-x86_64/0.36.0-libdjl_torch.so
dest="$OUTDIR/djl-cache/pytorch/$TV-$FLAVOR-linux-x86_64"; mkdir -p "$dest"; cp "$OUTDIR/libdjl_torch.so" "$dest/0.36.0-libdjl_torch.so"
cat > "$OUTDIR/env.sh" <<EOF
export PYTORCH_LIBRARY_PATH="$LIBDIR" PYTORCH_VERSION="$TV" PYTORCH_FLAVOR="$FLAVOR" ENGINE_CACHE_DIR="$OUTDIR/djl-cache"
EOF
echo "gpu-jni: built $OUTDIR/libdjl_torch.so (-std=$STD, $n files); environment for DJL in $OUTDIR/env.sh:"; cat "$OUTDIR/env.sh"
