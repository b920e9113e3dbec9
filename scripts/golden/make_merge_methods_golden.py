#!/usr/bin/env python3
"""Golden merges for the merge methods of issue 16, for dev.paft.merge.MergeMethodsFidelityTest.

Run with Debian's PyTorch (torch 1.13 + numpy + yaml):

    /usr/bin/python3 scripts/golden/make_merge_methods_golden.py

Writes under src/test/resources/merge/methods/:
  models/{base,m1,m2,m3}/   tiny Llama-shaped float32 models with dense task vectors
  models/{s1,s2,s3}/        the same base with sparse task vectors (about 35% of the entries
                            changed each, overlapping: RL-like inputs for ram / ramplus_tl)
  configs/<case>.yml        mergekit YAMLs (paths relative to the config file, dtype float32)
  expected/<case>/model.safetensors   what mergekit computes for that YAML, in float32

Each method below is written from mergekit's sources at a6e4028 (read, not imported) and its
mergekit's merge-method guide (in the mergekit repository): mergekit/merge_methods/{sce,model_stock,nuslerp,multislerp,karcher,nearswap,
arcee_fusion,ram,passthrough}.py and easy_define.py (which inputs a method sees: with a base_tensor
argument the base is not among `tensors`); mergekit/plan.py (a base_model not listed under models is
appended to the inputs; layer i of L at t = i/(L-1), other tensors at t = 0); mergekit/config.py
(parameter resolution: evaluate_setting, ConfigReader.parameter; reused from
make_merge_fidelity_golden.py). It shares no code with paft; float32 torch throughout, as mergekit
with dtype: float32. ramplus_tl's rho divides the integer counts by clamp(min=epsilon): this script
converts them to float32 first, as torch 2's type promotion (mergekit's requirement) does.
"""
import importlib.util
import math
import os
import shutil

import torch
import torch.nn.functional as F
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "src", "test", "resources", "merge", "methods")
_spec = importlib.util.spec_from_file_location("fid", os.path.join(HERE, "make_merge_fidelity_golden.py"))
fid = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fid)


# ---- the methods, tensor by tensor (mergekit semantics) -----------------------------------------

def sce(tensors, base, select_topk):
    tvs = torch.stack([t - base for t in tensors], dim=0)
    if select_topk < 1:
        var = torch.var(tvs, dim=0, unbiased=False)
        k = int(torch.count_nonzero(var) * select_topk)
        mask = torch.zeros_like(var)
        if k > 0:
            # top-k variances; ties by index (no ties in this random data)
            order = sorted(range(var.numel()), key=lambda j: (-abs(var.view(-1)[j].item()), j))[:k]
            mask.view(-1)[order] = 1
        tvs = tvs * mask.unsqueeze(0)
    total = tvs.sum(dim=0)
    majority = (total >= 0).to(tvs.dtype) * 2 - 1
    agree = (tvs.sign() == majority).to(tvs.dtype)
    w = torch.mean(tvs ** 2, dim=list(range(1, tvs.dim())))
    ws = torch.sum(w).item()
    w = torch.ones_like(w) / w.shape[0] if abs(ws) < 1e-6 else w / ws
    while w.dim() < tvs.dim():
        w = w.unsqueeze(-1)
    ew = w * agree
    return base + (tvs * ew).sum(dim=0) / ew.sum(dim=0).clamp(min=1e-6)


def model_stock(w0, ws, filter_wise):
    shape = w0.shape
    if filter_wise:
        if w0.dim() == 1:
            w0 = w0.unsqueeze(0)
            ws = [w.unsqueeze(0) for w in ws]
    else:
        w0 = w0.view(-1)
        ws = [w.view(-1) for w in ws]
    offs = [w - w0 for w in ws]
    cos = []
    for i in range(len(offs)):
        for j in range(i + 1, len(offs)):
            c = (offs[i] * offs[j]).sum(dim=-1) / (torch.norm(offs[i], dim=-1) * torch.norm(offs[j], dim=-1)).clamp(min=1e-6)
            cos.append(c.clamp(-1, 1))
    c = torch.stack(cos).mean(dim=0).unsqueeze(-1)
    n = len(ws)
    t = (n * c) / (1 + (n - 1) * c)
    avg = sum(ws) / n
    return (t * avg + (1 - t) * w0).reshape(shape)


def slerp_vectors(t, v0, v1):
    """SLERP of the vectors along the last dimension (one per row)."""
    u0 = v0 / torch.norm(v0, dim=-1, keepdim=True).clamp(min=1e-7)
    u1 = v1 / torch.norm(v1, dim=-1, keepdim=True).clamp(min=1e-7)
    cos = torch.sum(u0 * u1, dim=-1, keepdim=True)
    theta = torch.acos(cos.clamp(-1, 1))
    s = torch.sin(theta)
    res = (torch.sin((1 - t) * theta) * v0 + torch.sin(t * theta) * v1) / s
    col = (s.abs() < 1e-8).squeeze(-1)
    res[col] = (1 - t) * v0[col] + t * v1[col]
    return res


def nuslerp(t, v0, v1, row_wise, flatten):
    shape = v0.shape
    if flatten or v0.dim() == 1:
        return slerp_vectors(t, v0.reshape(1, -1), v1.reshape(1, -1)).reshape(shape)
    if row_wise:
        return slerp_vectors(t, v0.transpose(0, -1), v1.transpose(0, -1)).transpose(0, -1).reshape(shape)
    return slerp_vectors(t, v0, v1).reshape(shape)


def multislerp(tensors, weights, base, normalize_weights, eps):
    if len(tensors) == 1:
        return tensors[0]
    x = torch.stack(tensors, dim=0)
    if base is not None:
        x = x - base
    flat = x.view(x.shape[0], -1)
    w = torch.tensor(weights, dtype=x.dtype)
    if normalize_weights:
        w = w / w.sum()
    norms = torch.norm(flat, dim=-1, keepdim=True)
    units = flat / (norms + eps)
    mean = (units * w.view(-1, 1)).sum(0)
    mn = torch.norm(mean)
    assert mn >= eps
    mean = mean / mn
    dots = (units * mean).sum(-1, keepdim=True)
    tangent = ((units - dots * mean) * w.view(-1, 1)).sum(0)
    tn = torch.norm(tangent) + eps
    res = (mean * torch.cos(tn) + tangent * (torch.sin(tn) / tn)) * (norms.squeeze(-1) * w).sum()
    res = res.view(x.shape[1:])
    return res + base if base is not None else res


def karcher(tensors, max_iter, tol):
    if len(tensors) == 1:
        return tensors[0]
    alphas = [1.0 / len(tensors)] * len(tensors)
    norms, units = [], []
    for t in tensors:
        n = torch.linalg.norm(t)
        norms.append(n.item())
        units.append(torch.zeros_like(t) if n.item() == 0 else t / n)
    valid = [i for i, n in enumerate(norms) if n > tol]
    if not valid:
        return torch.zeros_like(tensors[0])
    a = [alphas[i] / sum(alphas[k] for k in valid) for i in valid]
    us = [units[i] for i in valid]
    u = torch.zeros_like(us[0])
    for ai, ui in zip(a, us):
        u += ai * ui
    nu = torch.linalg.norm(u).item()
    u = us[0].clone() if nu < tol else u / nu
    for _ in range(max_iter):
        T = torch.zeros_like(u)
        for ai, ui in zip(a, us):
            dot = torch.clamp(torch.dot(u.flatten(), ui.flatten()), -1.0, 1.0)
            theta = torch.arccos(dot)
            if theta.item() < tol:
                continue
            T += ai * (theta / torch.sin(theta)) * (ui - dot * u)
        nT = torch.linalg.norm(T)
        if nT.item() < tol:
            break
        u = torch.cos(nT) * u + torch.sin(nT) * (T / nT)
        n2 = torch.linalg.norm(u)
        if n2.item() > tol:
            u = u / n2
    return sum(al * n for al, n in zip(alphas, norms)) * u


def nearswap(a, b, t):
    w = (t / torch.abs(a - b).clamp(min=1e-6)).clamp(min=0, max=1)
    return w * b + (1 - w) * a


def arcee_fusion(b, m):
    diff = (m - b).abs()
    p = F.softmax(m, dim=-1) + 1e-8
    q = F.softmax(b, dim=-1) + 1e-8
    kl = torch.sum(p * torch.log(p / q), dim=-1)
    imp = diff * kl.unsqueeze(-1)
    s, _ = torch.sort(imp.view(-1))
    assert s.numel() <= 1e6
    qs = lambda x: s[(torch.tensor([x]) * (s.numel() - 1)).long()][0]
    threshold = qs(0.5) + 1.5 * (qs(0.75) - qs(0.25))
    return b + (m - b) * (imp >= threshold).float()


def ram(tensors, base, epsilon, plus=False, r=0.1, alpha=0.2):
    tv = torch.stack([t - base for t in tensors], dim=0).view(len(tensors), -1)
    nz = tv.abs() > epsilon
    counts = nz.sum(dim=0, keepdim=True)
    overlap = counts > 1
    unique = counts == 1
    tvz = tv * nz
    if plus:
        shared_c = (nz & overlap).sum(dim=1).float()
        unique_c = (nz & unique).sum(dim=1).float()
        rho = shared_c / unique_c.clamp(min=epsilon)
        lam = (1 + r * rho.clamp(min=0, max=alpha)).unsqueeze(-1)
        merged = (tvz * unique * lam + tvz * overlap / counts.clamp(min=1)).sum(dim=0, keepdim=True)
    else:
        merged = (tvz * unique + tvz * overlap / counts.clamp(min=1)).sum(dim=0, keepdim=True)
    return base + merged.reshape_as(base)


# ---- configs -------------------------------------------------------------------------------------

def merge(cfg, models):
    method = cfg["merge_method"]
    base_ref = cfg.get("base_model")
    entries = [(e["model"], e.get("parameters") or {}) for e in cfg["models"]]
    if base_ref is not None and all(m != base_ref for m, _ in entries):
        entries.append((base_ref, {}))  # plan.py appends an unlisted base
    others = [(m, p) for m, p in entries if m != base_ref]
    out = {}
    P = lambda name, n, t, mp=None, **kw: fid.parameter(cfg, name, n, t, mp, **kw)
    for n in fid.names():
        t = fid.t_of(n)
        base = models[base_ref][n] if base_ref else None
        xs = [models[m][n] for m, _ in others]
        if method == "sce":
            out[n] = sce(xs, base, P("select_topk", n, t, default=1.0))
        elif method == "model_stock":
            out[n] = model_stock(base, xs, P("filter_wise", n, t, default=False))
        elif method == "nuslerp":
            w = [P("weight", n, t, p, required=True) for _, p in others]
            tt = 0.5 if abs(sum(w)) < 1e-6 else w[1] / sum(w)
            rw, fl = P("nuslerp_row_wise", n, t, default=False), P("nuslerp_flatten", n, t, default=True)
            out[n] = nuslerp(tt, xs[0], xs[1], rw, fl) if base is None else base + nuslerp(tt, xs[0] - base, xs[1] - base, rw, fl)
        elif method == "multislerp":
            w = [P("weight", n, t, p, required=True) for _, p in others]
            out[n] = multislerp(xs, w, base, P("normalize_weights", n, t, default=True), P("eps", n, t, default=1e-8))
        elif method == "karcher":
            allx = [models[m][n] for m, _ in entries]  # no base_tensor argument: the base is an input
            out[n] = karcher(allx, int(P("max_iter", n, t, default=10)), P("tol", n, t, default=1e-5))
        elif method == "nearswap":
            out[n] = nearswap(base, xs[0], P("t", n, t, required=True))
        elif method == "arcee_fusion":
            out[n] = arcee_fusion(base, xs[0])
        elif method in ("ram", "ramplus_tl"):
            eps = P("epsilon", n, t, default=1e-5)
            if method == "ram":
                out[n] = ram(xs, base, eps)
            else:
                out[n] = ram(xs, base, eps, True, P("r", n, t, default=0.1), P("alpha", n, t, default=0.2))
        elif method == "passthrough":
            (m, p), = entries
            s = P("scale", n, t, p, default=None)
            out[n] = models[m][n] * s if s is not None else models[m][n]
        else:
            raise ValueError(method)
    return out


CASES = {
    "sce_topk": """
models:
  - model: m1
  - model: m2
  - model: m3
merge_method: sce
base_model: base
parameters:
  select_topk: 0.5
dtype: float32
""",
    "sce_default": """
models:
  - model: base
  - model: m1
  - model: m2
merge_method: sce
base_model: base
dtype: float32
""",
    "model_stock": """
models:
  - model: m1
  - model: m2
  - model: m3
merge_method: model_stock
base_model: base
dtype: float32
""",
    "model_stock_filter_wise": """
models:
  - model: m1
  - model: m2
merge_method: model_stock
base_model: base
parameters:
  filter_wise: true
dtype: float32
""",
    "nuslerp_base": """
models:
  - model: m1
    parameters:
      weight: 0.3
  - model: m2
    parameters:
      weight: [0.7, 0.2]
merge_method: nuslerp
base_model: base
dtype: float32
""",
    "nuslerp_rows": """
models:
  - model: m1
    parameters:
      weight: 1.0
  - model: m2
    parameters:
      weight: 0.5
merge_method: nuslerp
parameters:
  nuslerp_flatten: false
dtype: float32
""",
    "nuslerp_columns": """
models:
  - model: m1
    parameters:
      weight: 0.6
  - model: m3
    parameters:
      weight: 0.4
merge_method: nuslerp
parameters:
  nuslerp_flatten: false
  nuslerp_row_wise: true
dtype: float32
""",
    "multislerp_base": """
models:
  - model: m1
    parameters:
      weight: 0.5
  - model: m2
    parameters:
      weight: 0.3
  - model: m3
    parameters:
      weight: 0.2
merge_method: multislerp
base_model: base
dtype: float32
""",
    "multislerp_models": """
models:
  - model: m1
    parameters:
      weight: 1.0
  - model: m2
    parameters:
      weight: 0.5
merge_method: multislerp
parameters:
  normalize_weights: false
dtype: float32
""",
    "karcher": """
models:
  - model: m1
  - model: m2
  - model: m3
merge_method: karcher
dtype: float32
""",
    "karcher_base": """
models:
  - model: m1
  - model: m2
merge_method: karcher
base_model: base
parameters:
  max_iter: 5
  tol: 1.0e-6
dtype: float32
""",
    "nearswap": """
models:
  - model: base
  - model: m1
merge_method: nearswap
base_model: base
parameters:
  t: 0.03
dtype: float32
""",
    # mergekit examples/arcee_fusion.yml (model_a = base, model_b = m1), in float32
    "arcee_fusion": """
models:
  - model: base
  - model: m1
merge_method: arcee_fusion
base_model: base
dtype: float32
""",
    "ram": """
models:
  - model: s1
  - model: s2
  - model: s3
merge_method: ram
base_model: base
dtype: float32
""",
    "ramplus_tl": """
models:
  - model: s1
  - model: s2
  - model: s3
merge_method: ramplus_tl
base_model: base
parameters:
  r: 0.5
  alpha: 0.4
  epsilon: 1.0e-4
dtype: float32
""",
    # mergekit's merge-method guide (in the mergekit repository): scale with a filter (up_proj here: the tiny models have no down_proj)
    "passthrough_scale": """
models:
  - model: m2
    parameters:
      scale:
        - filter: up_proj
          value: 0.5
        - value: 1.0
merge_method: passthrough
dtype: float32
""",
}

NAMES = ("base", "m1", "m2", "m3", "s1", "s2", "s3")


def main():
    g = torch.Generator().manual_seed(20261216)
    base = {n: torch.randn(fid.shape(n), generator=g) for n in fid.names()}
    models = {"base": base}
    for k, scale in (("m1", 0.05), ("m2", 0.08), ("m3", 0.03)):
        models[k] = {n: base[n] + torch.randn(fid.shape(n), generator=g) * scale for n in fid.names()}
    for k in ("s1", "s2", "s3"):
        models[k] = {n: base[n] + torch.randn(fid.shape(n), generator=g) * 0.05
                     * (torch.rand(fid.shape(n), generator=g) < 0.35).float() for n in fid.names()}
    shutil.rmtree(ROOT, ignore_errors=True)
    for k in NAMES:
        fid.write_model(os.path.join(ROOT, "models", k), models[k])
    os.makedirs(os.path.join(ROOT, "configs"))
    for case, text in CASES.items():
        cfg = yaml.safe_load(text)
        out = merge(cfg, models)
        d = os.path.join(ROOT, "expected", case)
        os.makedirs(d)
        fid.write_safetensors(os.path.join(d, "model.safetensors"), out)
        rel = text
        for k in NAMES:
            rel = rel.replace(f"model: {k}\n", f"model: ../models/{k}\n")
        with open(os.path.join(ROOT, "configs", case + ".yml"), "w") as f:
            f.write(rel.lstrip())
        print(f"{case}: {len(out)} tensors")


if __name__ == "__main__":
    main()
