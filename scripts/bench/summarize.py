#!/usr/bin/env python3
"""Turns the RESULT lines of run-all.sh / gpu.sh into the ratio table (stdin or a file).

FLOPs per step (B rows x T tokens = n tokens; L layers, h hidden, H heads x D head dim, KV heads,
I MLP, V vocab, r LoRA rank on q,k,v,o):
  N      = L * (h*H*D + 2*h*KV*D + H*D*h + 3*h*I) + V*h      frozen matmul weights (embedding lookup excluded)
  attn   = L * 4 * B * T^2 * H*D                               QK^T and PV, full square as computed
  lora   = L * n * 2r * (4h + 2KV*D + 2H*D) ... (exact per module: 2r(in+out) per token)
  F      = 2*N*n + attn + lora                                 one forward
  SFT step, convention "6N":  3*F            (forward + backward counted as 2x forward, as if all weights trained)
  SFT step, frozen ("4N"):    2*F + (F - 2*N*n)   i.e. 2*N*n forward + 2*N*n input-gradients (no frozen weight grads)
                              + 3x attention + 3x LoRA
  DPO step: the SFT step on the same tokens + one reference forward (F without LoRA).
MFU = step FLOPs / step time / matmul ceiling (the best of DJL's and torch's 2048^3 float32 GFLOP/s in the same run).
"""
import json
import os
import re
import statistics
import sys

CONFIGS = {  # hidden, layers, heads, kv heads, mlp, vocab, seq, batch
    "small": (256, 4, 8, 8, 688, 32000, 256, 8),
    "small-b2": (256, 4, 8, 8, 688, 32000, 256, 2),
    "medium": (1024, 8, 16, 16, 2752, 32000, 512, 4),
    "gpu1b": (2048, 16, 32, 8, 5632, 32000, 1024, 4),
    "tiny": (64, 2, 4, 2, 128, 1000, 32, 4),
}


def flops(name, r=8):
    h, L, H, KV, I, V, T, B = CONFIGS[name]
    D = h // H
    n = B * T
    N = L * (h * H * D + 2 * h * KV * D + H * D * h + 3 * h * I) + V * h
    attn = L * 4 * B * T * T * H * D
    lora = L * n * 2 * r * ((h + H * D) + 2 * (h + KV * D) + (H * D + h))
    fwd = 2 * N * n + attn + lora
    ref = 2 * N * n + attn
    sft6 = 3 * fwd
    sft4 = 4 * N * n + 3 * attn + 3 * lora
    return {"N": N, "fwd": fwd, "sft6": sft6, "sft4": sft4, "dpo6": sft6 + ref, "dpo4": sft4 + ref}


def parse(lines):
    res = []
    for line in lines:
        m = re.search(r"RESULT (.*)", line)
        if not m:
            continue
        d = {}
        for kv in re.findall(r"(\S+)=(\S+)", m.group(1)):
            d[kv[0]] = kv[1]
        cm = re.search(r"config=(\S+)", line)
        res.append(d)
    return res


def main():
    lines = open(sys.argv[1]).read().splitlines() if len(sys.argv) > 1 else sys.stdin.read().splitlines()
    res = parse(lines)
    gf = {r["impl"]: float(r["gflops"]) for r in res if r.get("kind") == "matmul"}
    ceiling = max(gf.values()) if gf else float("nan")
    out = []
    out.append(f"matmul 2048^3 float32 GFLOP/s: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(gf.items()))
               + f"  -> ceiling {ceiling:.1f}")
    by = {}
    for r in res:
        if r.get("kind") in ("sft", "dpo") and "config" in r:
            by.setdefault((r["config"], r["kind"], r["impl"]), []).append(r)
    cfgs = []
    for (c, _, _) in by:
        if c not in cfgs:
            cfgs.append(c)
    out.append("")
    out.append(f"{'config':8} {'step':4} {'paft loss0':>11} {'torch loss0':>11} {'paft gn0':>9} {'torch gn0':>9} {'same':>4} "
               f"{'paft s':>8} {'torch s':>8} {'paft/torch':>10} {'paft tok/s':>10} {'MFU6 paft':>9} {'MFU6 torch':>10} {'MFU4 paft':>9}")
    summary = {}
    for c in cfgs:
        f = flops(c)
        for kind in ("sft", "dpo"):
            p, t = by.get((c, kind, "paft"), []), by.get((c, kind, "torch"), [])
            if not p:
                continue
            ps = [float(x) for r in p for x in r["step_s"].split(",")]
            ts = [float(x) for r in t for x in r["step_s"].split(",")]
            pm = statistics.median(ps)
            tm = statistics.median(ts) if ts else float("nan")
            pl, pg = float(p[0]["loss0"]), float(p[0]["gnorm0"])
            tl, tg = (float(t[0]["loss0"]), float(t[0]["gnorm0"])) if t else (float("nan"),) * 2
            same = t and abs(pl - tl) <= 1e-4 * max(1, abs(tl)) and abs(pg - tg) <= 1e-3 * max(1e-3, abs(tg))
            tok = int(p[0]["tokens"])
            m6 = f[kind + "6"] / pm / 1e9 / ceiling
            m6t = f[kind + "6"] / tm / 1e9 / ceiling
            m4 = f[kind + "4"] / pm / 1e9 / ceiling
            summary[(c, kind)] = (pm, tm)
            out.append(f"{c:8} {kind:4} {pl:11.6f} {tl:11.6f} {pg:9.5f} {tg:9.5f} {'yes' if same else 'NO':>4} "
                       f"{pm:8.3f} {tm:8.3f} {pm / tm:10.2f} {tok / pm:10.1f} {m6:9.1%} {m6t:10.1%} {m4:9.1%}")
    out.append("")
    for c in cfgs:
        if (c, "sft") in summary and (c, "dpo") in summary:
            ps, ts = summary[(c, "sft")]
            pd, td = summary[(c, "dpo")]
            out.append(f"{c}: DPO step / SFT step on the same tokens: paft {pd / ps:.2f}x, torch {td / ts:.2f}x "
                       f"(FLOP ratio {flops(c)['dpo6'] / flops(c)['sft6']:.2f}x by 6N, {flops(c)['dpo4'] / flops(c)['sft4']:.2f}x by 4N)")
    for c in cfgs:
        rss = []
        for kind in ("sft", "dpo"):
            for impl in ("paft", "torch"):
                v = [int(r["peak_rss_mb"]) for r in by.get((c, kind, impl), []) if "peak_rss_mb" in r]
                if v:
                    rss.append(f"{impl} {kind} {max(v)}")
        if rss:
            out.append(f"{c}: peak RSS MB (process, weights included; max over rounds): " + ", ".join(rss))
    for r in res:
        if r.get("kind") == "phases":
            ph = {k: tuple(float(x) for x in v.split("/")) for k, v in r.items() if "." in k and "/" in v}
            if "sft.forward" in ph and "fb.forward" in ph:
                step = sum(ph[k][1] for k in ("sft.forward", "sft.backward", "sft.clip", "sft.adamw", "sft.zero"))
                fb = ph["fb.forward"][1] + ph["fb.backward"][1]
                out.append(f"{r.get('config', '?')} {r['impl']}: SFT step (CE + L1, clip, AdamW, zero) / forward+backward (CE only): "
                           f"{step / fb:.3f}  (overhead {step / fb - 1:+.1%}; means {step:.3f} s vs {fb:.3f} s)")
            out.append(f"{r.get('config', '?')} {r['impl']} phases (min/mean s): "
                       + ", ".join(f"{k} {v[0]:.3f}/{v[1]:.3f}" for k, v in ph.items()))
    for r in res:
        if r.get("kind") == "merge":
            out.append("merge: " + " ".join(f"{k}={v}" for k, v in r.items()))
    print("\n".join(out))


if __name__ == "__main__":
    main()
