#!/usr/bin/env python3
"""Compares a `paft merge --lora-out` adapter with the model `paft merge` wrote from the same inputs.

    /usr/bin/python3 scripts/check/lora_out_vs_dense.py BASE_DIR DENSE_MODEL_DIR ADAPTER_DIR

For every adapted matrix: ||(W + scaling * B @ A) - M||_F / ||M - W||_F (M the dense merge, W the base),
computed in float64 with torch, and the adapter's reported error for comparison; then the overall
figure sqrt(sum of squared errors / sum of squared norms). Reads safetensors by hand (json header +
raw little-endian data; F32, F16 and BF16), so only torch is needed. Independent of paft's Java code.
"""
import json
import re
import struct
import sys

import torch

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DT[v["dtype"]]).reshape(v["shape"])
        out[k] = t.to(torch.float64)
    return out


def model(d):
    import glob
    out = {}
    for p in sorted(glob.glob(d + "/*.safetensors")):
        out.update(load(p))
    return out


def pattern_value(patterns, module, default):
    for k, v in patterns.items():  # PEFT's get_pattern_key: the first key matching (.*\.)?(key)$
        if re.match(r"(.*\.)?(%s)$" % k, module):
            return v
    return default


def main():
    base, dense, adapter = sys.argv[1:4]
    w, m = model(base), model(dense)
    cfg = json.load(open(adapter + "/adapter_config.json"))
    fac = load(adapter + "/adapter_model.safetensors")
    rep = {t["tensor"]: t for t in json.load(open(adapter + "/lora_merge_report.json"))["tensors"]}
    num = den = 0.0
    worst = (0.0, None)
    for k in fac:
        if not k.endswith(".lora_A.weight"):
            continue
        mod = k[len("base_model.model."):-len(".lora_A.weight")]
        r = pattern_value(cfg["rank_pattern"], mod, cfg["r"])
        alpha = pattern_value(cfg["alpha_pattern"], mod, cfg["lora_alpha"])
        s = alpha / (r ** 0.5 if cfg["use_rslora"] else r)
        a, b = fac[k], fac[k.replace("lora_A", "lora_B")]
        assert a.shape[0] == r and b.shape[1] == r, (mod, a.shape, b.shape, r)
        name = mod + ".weight"
        approx = w[name] + s * (b @ a)
        e2 = float(((approx - m[name]) ** 2).sum())
        n2 = float(((m[name] - w[name]) ** 2).sum())
        num += e2
        den += n2
        rel = (e2 / n2) ** 0.5 if n2 > 0 else 0.0
        worst = max(worst, (rel, name))
        print(f"{name:45s} rank {r:4d} measured {rel:.4g} reported {rep[name]['relative_error']:.4g}")
    for name in m:  # everything the adapter leaves out must be the base in the dense merge
        mod = name[:-len(".weight")] if name.endswith(".weight") else name
        if "base_model.model." + mod + ".lora_A.weight" not in fac:
            d = float((m[name] - w[name]).abs().max())
            scale = float(w[name].abs().max()) or 1.0
            assert d <= 1e-6 * scale, (name, d)
    print(f"overall measured {(num / den) ** 0.5:.4g}, worst {worst[0]:.4g} ({worst[1]})")


if __name__ == "__main__":
    main()
