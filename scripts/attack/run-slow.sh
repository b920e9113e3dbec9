#!/usr/bin/env bash
# The slow cases of the attack suite (docs/GUARANTEES.md): SIGKILL mid-run, two processes on one
# output, the full demo under the divergence guard. The fast cases are JUnit tests in
# src/test/java/dev/paft/attack/ (mvn test). Prints "held" or "FAILED" per case and the counts;
# exits 1 when a case failed.
#
#   scripts/attack/run-slow.sh            # every case (about 4 minutes on 2 cores)
#   SKIP_DEMO=1 scripts/attack/run-slow.sh  # without the full demo run
#   CASES="1 2 3" scripts/attack/run-slow.sh  # only these cases
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
root="$PAFT_ROOT"
paft="$root/scripts/paft"
paft_jar >/dev/null    # build before the first timed case (scripts/paft would, inside its time limit)
work="$(mktemp -d /tmp/paft-attack.XXXXXX)"
model="$root/src/main/resources/dev/paft/demo/model"
data="$root/src/test/resources/train/data"
held=0
failed=0
trap '[ $failed -eq 0 ] && rm -rf "$work" || echo "kept $work for inspection"' EXIT

result() {   # name, 0 = held
  if [ "$2" -eq 0 ]; then
    held=$((held + 1)); printf 'held    %s\n' "$1"
  else
    failed=$((failed + 1)); printf 'FAILED  %s  (%s)\n' "$1" "${3:-}"
  fi
}

sft_args() {   # out, extra args... -> array A (STEPS and LR from the environment)
  local out="$1"; shift
  A=(train-sft --model "$model" --train "$data/sft_train.jsonl" -o "$out" --threads 1 --batch-size 4
    --max-length 48 --lora-r 2 --lora-alpha 4 --lr "${LR:-1e-2}" --max-steps "${STEPS:-12}"
    --set training.log_steps=1 --set training.save_steps=2 --set training.warmup_steps=1 --set lora.dropout=0.1 "$@")
}
sft() { sft_args "$@"; "$paft" "${A[@]}"; }
# In the background: "$paft" execs java, so $! is the JVM's PID (a function would put a subshell in between).
sft_bg() { sft_args "$@"; "$paft" "${A[@]}" & }

want() { [ -z "${CASES:-}" ] || [[ " $CASES " == *" $1 "* ]]; }

wait_for() {   # path, timeout seconds
  local i
  for ((i = 0; i < $2 * 20; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done
  return 1
}

hash_dir() { (cd "$1" && find . -type f ! -name '.*' | sort | xargs sha256sum) 2>/dev/null; }

# A merged model directory as "whole:<sha of merge_config.yaml>" when every file is complete (the
# safetensors size matches its header), else "broken" ("missing" when absent). Byte hashes of the
# weights are not compared: the safetensors metadata of a merge is not byte-reproducible yet.
merge_state() {
  python3 - "$1" <<'EOF'
import hashlib, json, os, struct, sys
d = sys.argv[1]
if not os.path.isdir(d):
    print("missing"); sys.exit()
try:
    st = os.path.join(d, "model.safetensors")
    with open(st, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    end = max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__")
    json.load(open(os.path.join(d, "config.json")))
    assert os.path.getsize(st) == 8 + n + end
    print("whole:" + hashlib.sha256(open(os.path.join(d, "merge_config.yaml"), "rb").read()).hexdigest()[:16])
except Exception as e:
    print("broken: %s" % e)
EOF
}

# Build the jar once (scripts/paft would otherwise check on every call).
"$paft" --version >/dev/null 2>&1 || { echo "cannot run $paft"; exit 1; }

# 1. SIGKILL after a checkpoint, then --resume: the adapter equals the uninterrupted run's, byte for byte.
if want 1; then
sft "$work/full" >/dev/null 2>&1
sft_bg "$work/killed" >"$work/killed.log" 2>&1
pid=$!
wait_for "$work/killed/checkpoint-4" 120
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
sft "$work/killed" --resume >>"$work/killed.log" 2>&1
cmp -s "$work/full/adapter_model.safetensors" "$work/killed/adapter_model.safetensors"
result "kill -9 mid-training, --resume gives the byte-identical adapter" $? "see $work/killed.log"

fi

# 2. Two trainings into one directory: the second exits 2 naming the first's PID; metrics are one run's.
if want 2; then
STEPS=40 sft_bg "$work/two" >"$work/two-a.log" 2>&1
pid=$!
wait_for "$work/two/metrics.jsonl" 120
STEPS=40 sft "$work/two" >"$work/two-b.log" 2>&1
rc_b=$?
wait $pid
rc_a=$?
steps=$(grep -c '"loss"' "$work/two/metrics.jsonl")
uniq_steps=$(grep -o '"step":[0-9]*' "$work/two/metrics.jsonl" | sort -u | wc -l)
[ $rc_b -eq 2 ] && grep -q "another paft process (PID $pid)" "$work/two-b.log" && [ $rc_a -eq 0 ] && [ "$steps" -ge 40 ] && [ "$steps" -eq "$uniq_steps" ]
result "two concurrent trainings into one output: second exits 2 naming PID $pid, first unharmed" $? "rc_b=$rc_b rc_a=$rc_a steps=$steps/$uniq_steps"

fi

# 3. A lock left by a killed process never blocks.
if want 3; then
STEPS=40 sft_bg "$work/stale" >/dev/null 2>&1
pid=$!
wait_for "$work/stale/checkpoint-2" 120
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
STEPS=40 sft "$work/stale" --resume >"$work/stale.log" 2>&1
result "stale lock of a SIGKILLed run does not block the next run" $? "see $work/stale.log"

fi

# 4. SIGKILL during --overwrite: the old finished run is intact; the next run cleans the debris.
if want 4; then
sft "$work/ow" >/dev/null 2>&1
before=$(hash_dir "$work/ow")
STEPS=40 LR=2e-2 sft_bg "$work/ow" --overwrite >/dev/null 2>&1
pid=$!
wait_for "$work/.ow.tmp-$pid/checkpoint-2" 120
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
after=$(hash_dir "$work/ow")
debris=$(ls -d "$work/.ow.tmp-"* 2>/dev/null | wc -l)
sft "$work/ow" --overwrite >/dev/null 2>&1
rc=$?
left=$(ls -d "$work/.ow.tmp-"* 2>/dev/null | wc -l)
[ "$before" = "$after" ] && [ "$debris" -eq 1 ] && [ $rc -eq 0 ] && [ "$left" -eq 0 ]
result "kill -9 during train --overwrite keeps the old run; next run removes the debris" $? "same=$([ "$before" = "$after" ] && echo y) debris=$debris rc=$rc left=$left"

fi

# 5. SIGKILL at varied moments of merge --overwrite: the output is always the old or the new merge, whole.
if want 5; then
"$paft" merge --method linear --model "$model:weight=1" --out "$work/m" >"$work/m.log" 2>&1
old=$(merge_state "$work/m")
"$paft" merge --method linear --model "$model:weight=0.5" --param normalize=false --out "$work/m-new" >/dev/null 2>&1
new=$(merge_state "$work/m-new")
ok=0; tries=0
for delay in 0.5 1.0 1.5 2.0 2.5 3.0; do
  "$paft" merge --method linear --model "$model:weight=0.5" --param normalize=false --out "$work/m" --overwrite >/dev/null 2>&1 &
  pid=$!
  sleep $delay
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  # a killed swap is rolled back by the next merge into the same output; take that view
  now=$(merge_state "$work/m")
  if [ "$now" = missing ] && ls -d "$work/.m.old-"* >/dev/null 2>&1; then now="rolled-back"; fi
  tries=$((tries + 1))
  if [ "$now" = "$old" ] || [ "$now" = "$new" ] || [ "$now" = "rolled-back" ]; then ok=$((ok + 1))
  else echo "merge kill at ${delay}s left: $now (old $old, new $new)"; fi
  "$paft" merge --method linear --model "$model:weight=1" --out "$work/m" --overwrite >/dev/null 2>&1   # back to old
done
debris=$(ls -d "$work/.m."* 2>/dev/null | grep -v paft-lock | wc -l)
[ $ok -eq $tries ] && [ "$old" != "$new" ] && [[ "$old" == whole:* ]] && [ "$debris" -eq 0 ]
result "kill -9 at 6 moments of merge --overwrite: output always the old or the new merge, whole" $? "$ok/$tries whole, debris=$debris"

fi

# 6. Another process holding a merge output's lock (an fcntl lock, as Java's FileLock): exit 2 naming it;
if want 6; then
#    once it is killed, the merge runs.
python3 - "$work/locked" <<'EOF' &
import fcntl, os, sys, time
p = os.path.join(os.path.dirname(sys.argv[1]), "." + os.path.basename(sys.argv[1]) + ".paft-lock")
fd = os.open(p, os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, (str(os.getpid()) + "\n").encode())
open(p + ".ready", "w").close()
time.sleep(120)
EOF
pid=$!
wait_for "$work/.locked.paft-lock.ready" 20
"$paft" merge --method linear --model "$model:weight=1" --out "$work/locked" >"$work/locked.log" 2>&1
rc1=$?
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
"$paft" merge --method linear --model "$model:weight=1" --out "$work/locked" >>"$work/locked.log" 2>&1
rc2=$?
[ $rc1 -eq 2 ] && grep -q "(PID $pid)" "$work/locked.log" && [ $rc2 -eq 0 ]
result "merge into an output locked by another process: exit 2 naming PID $pid; runs once it is killed" $? "rc1=$rc1 rc2=$rc2"

fi

# 7. --lr 1e6: exit 4, no finished-looking run.
if want 7; then
STEPS=30 LR=1e6 sft "$work/lr" >"$work/lr.log" 2>&1
rc=$?
[ $rc -eq 4 ] && grep -q "training diverged" "$work/lr.log" && [ ! -e "$work/lr/paft_state.json" ]
result "train-sft --lr 1e6 stops with exit 4 (divergence), no finished-looking run" $? "rc=$rc"

fi

# 8. The full demo (default steps): the divergence guard never fires.
if want 8 && [ -z "${SKIP_DEMO:-}" ]; then
  "$paft" demo -o "$work/demo" --threads 2 >"$work/demo.log" 2>&1
  rc=$?
  ! grep -q "diverg" "$work/demo.log" && [ $rc -eq 0 ]
  result "paft demo (150 + 150 steps): exit 0, no divergence warning" $? "rc=$rc; $(grep -m1 diverg "$work/demo.log")"
fi

echo "slow attack cases: $((held + failed)) tried, $held held, $failed failed"
[ $failed -eq 0 ]
