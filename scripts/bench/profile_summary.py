#!/usr/bin/env python3
"""Per-op self time from Chrome traces of libtorch's profiler (TrainBench profile, torch_train.py profile).

  profile_summary.py paft.json [torch.json] [TOP]

Self time of an op = its duration minus that of the ops nested in it on the same thread (aten::linear ->
aten::matmul -> aten::mm: the time lands on aten::mm). Backward nodes (MmBackward0, ...) count only their own
bookkeeping; the kernels they call are listed under their aten names. With two traces: side by side.
"""
import json
import sys
from collections import defaultdict


def self_times(path):
    with open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    by_tid = defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_tid[(e.get("pid"), e.get("tid"))].append(e)
    total = defaultdict(float)
    count = defaultdict(int)
    for evs in by_tid.values():
        evs.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
        stack = []   # [end, name, child_time]
        def pop():
            end, name, child, dur = stack.pop()
            total[name] += dur - child
        for e in evs:
            ts, dur = float(e["ts"]), float(e["dur"])
            while stack and stack[-1][0] <= ts:
                pop()
            if stack:
                stack[-1][2] += dur
            stack.append([ts + dur, e["name"], 0.0, dur])
            count[e["name"]] += 1
        while stack:
            pop()
    return {k: (v / 1e6, count[k]) for k, v in total.items()}


def main():
    args = sys.argv[1:]
    top = int(args.pop()) if args and args[-1].isdigit() else 25
    sides = [(p, self_times(p)) for p in args]
    names = sorted({n for _, t in sides for n in t}, key=lambda n: -max(t.get(n, (0, 0))[0] for _, t in sides))
    head = f"{'op (self time, s)':38}" + "".join(f"{p.rsplit('/', 1)[-1][:18]:>20}{'calls':>7}" for p, _ in sides)
    print(head)
    for n in names[:top]:
        print(f"{n[:38]:38}" + "".join(f"{t.get(n, (0, 0))[0]:20.3f}{t.get(n, (0, 0))[1]:7d}" for _, t in sides))
    print(f"{'total':38}" + "".join(f"{sum(v[0] for v in t.values()):20.3f}{'':7}" for _, t in sides))


if __name__ == "__main__":
    main()
