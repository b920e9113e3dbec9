#!/usr/bin/env bash
# What recording data fingerprints costs (docs/GUARANTEES.md, "Resume"): a generated 1 GB JSONL hashed by
# paft (two JVMs: just after writing it, then again) and by sha256sum, against the time paft takes to read a 10 MB
# slice of the same data (train-sft --dry-run: parse, template, tokenize). Deletes what it wrote.
# Run under the shared CPU lock: flock /work/.cpu.lock scripts/bench/data-fingerprint.sh [DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
jar="$(paft_jar)"
dir="${1:-$(mktemp -d)}"
big="$dir/fingerprint-1g.jsonl" small="$dir/fingerprint-10m.jsonl" chunk="$dir/fingerprint-chunk.jsonl"
trap 'rm -f "$big" "$small" "$chunk"' EXIT
src="$PAFT_ROOT/src/test/resources/train/data/sft_train.jsonl"
: > "$chunk"
for i in $(seq 160); do cat "$src" >> "$chunk"; done   # ~1 MB
: > "$big"
for i in $(seq 980); do cat "$chunk" >> "$big"; done
head -c 10000000 "$big" | head -n -1 > "$small"   # whole records only
sync
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
java -cp "$jar" "$PAFT_ROOT/scripts/bench/DataFingerprintBench.java" "$big"
java -cp "$jar" "$PAFT_ROOT/scripts/bench/DataFingerprintBench.java" "$big" "$small"
/usr/bin/time -f "sha256sum 1 GB: %e s" sha256sum "$big" > /dev/null
paft_env
/usr/bin/time -f "train-sft --dry-run on 10 MB (read + tokenize, no fingerprint): %e s, max RSS %M KB" \
  java -Xmx8g -Dai.djl.offline=true -jar "$jar" train-sft --dry-run --model "$PAFT_ROOT/src/main/resources/dev/paft/demo/model" \
  --train "$small" --output-dir "$dir/dry" --max-length 48 --threads 2 | grep -E "examples|tokens" | head -3
