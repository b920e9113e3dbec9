#!/usr/bin/python3
"""Golden merges in mergekit's semantics, for dev.paft.merge.MergeFidelityTest (issue 15, merge items).

Run with Debian's PyTorch (torch 1.13 + numpy + yaml):

    /usr/bin/python3 scripts/golden/make_merge_fidelity_golden.py [--mergekit-sparsify PATH]

Writes under src/test/resources/merge/fidelity/:
  models/{base,m1,m2,m3}/     tiny Llama-shaped float32 models (config.json + model.safetensors)
  models/lora/                a PEFT LoRA adapter (r 4, alpha 8) on q_proj and up_proj
  configs/<case>.yml          mergekit YAMLs (paths relative to the config file, dtype float32)
  expected/<case>/model.safetensors   what mergekit computes for that YAML, in float32

The merges below are written from mergekit's sources (a6e4028; read, not imported):
  mergekit/config.py       evaluate_setting (gradients: scaled = t*(len-1), i0 = int(scaled);
                           filters: None, "*" or a substring) and ConfigReader.parameter
                           (per-model setting, then the global parameters, then the default)
  mergekit/plan.py         layer i of L at t = i/(L-1); tensors before and after the layers
                           (embeddings, final norm, lm_head) at t = 0; a base_model not listed
                           under models is appended to the inputs
  mergekit/merge_methods/generalized_task_arithmetic.py   task vectors, sparsify, weights,
                           sign consensus ("sum"), disjoint mix, divisor, normalize, lambda
  mergekit/sparsify.py     magnitude (top int(density*n) by |d|), magnitude_outliers (sort |d|
                           ascending, keep indices[n_bot:-n_top]), rescale: true = L1 norm kept
                           (no rescale when either norm < 1e-7)
  mergekit/merge_methods/linear.py, slerp.py
  mergekit/common.py       MODEL+LORA: the model with PEFT's merge_and_unload applied,
                           W + (B @ A) * scaling (peft/tuners/lora get_delta_weight)
It shares no code with paft. With --mergekit-sparsify PATH (a copy of mergekit/sparsify.py, e.g.
`git show HEAD:mergekit/sparsify.py > /tmp/sparsify.py` in a mergekit checkout), every sparsified
task vector is also computed by mergekit's own function and must match this script's bit for bit.
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import safetensors_io as st  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "test", "resources", "merge", "fidelity")
H, I, V, L = 16, 24, 32, 3
R, ALPHA = 4, 8.0

MK_SPARSIFY = None


def write_safetensors(path, tensors):
    st.write(path, tensors, default="F32", metadata={"format": "pt"})


def write_model(d, tensors):
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H, "intermediate_size": I,
           "num_attention_heads": 2, "num_key_value_heads": 2, "num_hidden_layers": L, "vocab_size": V,
           "torch_dtype": "float32"}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def names():
    out = ["model.embed_tokens.weight"]
    for i in range(L):
        p = f"model.layers.{i}."
        out += [p + "self_attn.q_proj.weight", p + "mlp.up_proj.weight", p + "input_layernorm.weight"]
    return out + ["model.norm.weight", "lm_head.weight"]


def shape(n):
    if "embed_tokens" in n or "lm_head" in n:
        return (V, H)
    if "q_proj" in n:
        return (H, H)
    if "up_proj" in n:
        return (I, H)
    return (H,)


# ---- mergekit/config.py semantics --------------------------------------------------------------

def evaluate_setting(tensor, setting, t):
    if isinstance(setting, (bool, int, float, str)):
        return setting
    if isinstance(setting, list):
        if all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in setting):
            scaled = t * (len(setting) - 1)
            i0 = int(scaled)
            i1 = min(len(setting) - 1, i0 + 1)
            frac = scaled - i0
            return (1 - frac) * setting[i0] + frac * setting[i1]
        for cond in setting:
            f = cond.get("filter")
            if f is None or f == "*" or f in tensor:
                return evaluate_setting(tensor, cond["value"], t)
        return None
    raise ValueError(setting)


def parameter(cfg, name, tensor, t, model_params=None, default=None, required=False):
    if model_params is not None and name in model_params:
        v = evaluate_setting(tensor, model_params[name], t)
        if v is not None:
            return v
    g = cfg.get("parameters") or {}
    if name in g:
        v = evaluate_setting(tensor, g[name], t)
        if v is not None:
            return v
    if required:
        raise RuntimeError(f"Missing required parameter {name} for {tensor}")
    return default


def t_of(tensor):
    if ".layers." in tensor:
        i = int(tensor.split(".layers.")[1].split(".")[0])
        return i / (L - 1) if L > 1 else 1
    return 0


# ---- mergekit/sparsify.py semantics ------------------------------------------------------------

def rescaled(tensor, mask, rescale):
    masked = tensor * mask
    if not rescale:
        return masked
    before, after = tensor.abs().sum(), masked.abs().sum()
    if before < 1e-7 or after < 1e-7:
        return masked
    return masked * (before / after)


def magnitude(tensor, density, rescale):
    if density >= 1:
        return tensor
    k = int(density * tensor.numel())
    assert k > 0
    mask = torch.zeros_like(tensor)
    top = torch.argsort(tensor.abs().view(-1), descending=True)[:k]
    mask.view(-1)[top] = 1
    return rescaled(tensor, mask, rescale)


def magnitude_outliers(tensor, density, gamma, rescale):
    if density >= 1:
        return tensor
    n = tensor.numel()
    target, n_top = int(density * n), int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    assert n_top > 0, "int(gamma * n) = 0: mergekit drops the whole task vector (indices[n_bot:-0] is empty)"
    idx = torch.sort(tensor.abs().view(-1), descending=False).indices
    mask = torch.zeros_like(tensor)
    mask.view(-1)[idx[n_bot:-n_top]] = 1
    return rescaled(tensor, mask, rescale)


def sparsify(method, delta, density, gamma, rescale):
    if method == "magnitude":
        mine = magnitude(delta, density, rescale)
    else:
        mine = magnitude_outliers(delta, density, gamma, rescale)
    if MK_SPARSIFY is not None:
        norm = MK_SPARSIFY.RescaleNorm.l1 if rescale else None
        kw = {"gamma": gamma} if method == "magnitude_outliers" else {}
        theirs = MK_SPARSIFY.sparsify(delta, density=density, method=MK_SPARSIFY.SparsificationMethod(method),
                                      rescale_norm=norm, **kw)
        assert torch.equal(mine, theirs), f"sparsify {method}: this script and mergekit's sparsify.py differ"
    return mine


# ---- merges --------------------------------------------------------------------------------------

GTA = {  # method -> (sparsification, consensus, default normalize, default rescale)
    "task_arithmetic": (None, False, False, False),
    "ties": ("magnitude", True, True, False),
    "breadcrumbs": ("magnitude_outliers", False, False, False),
    "breadcrumbs_ties": ("magnitude_outliers", True, False, False),
}


def load_model(ref, models):
    if "+" in ref:
        m, lora = ref.split("+")
        return apply_lora(models[m], models[lora])
    return models[ref]


def apply_lora(model, lora):
    out = dict(model)
    for mod, (a, b) in lora.items():
        w = mod + ".weight"
        out[w] = model[w] + (b @ a) * (ALPHA / R)
    return out


def merge(cfg, models):
    method = cfg["merge_method"]
    base_ref = cfg.get("base_model")
    entries = [(e["model"], e.get("parameters") or {}) for e in cfg["models"]]
    if base_ref is not None and all(m != base_ref for m, _ in entries):
        entries.append((base_ref, None))  # plan.py: "Base model specified but not in input models - adding"
    tensors_of = {m: load_model(m, models) for m, _ in entries}
    base = tensors_of[base_ref] if base_ref is not None else None
    out = {}
    for n in names():
        t = t_of(n)
        if method == "linear":
            normalize = parameter(cfg, "normalize", n, t, default=True)
            ws = [parameter(cfg, "weight", n, t, p or {}, required=p is not None) for m, p in entries]
            ts = torch.stack([tensors_of[m][n] for m, _ in entries], dim=0)
            w = torch.tensor(ws, dtype=ts.dtype)
            while len(w.shape) < len(ts.shape):
                w.unsqueeze_(-1)
            res = (w * ts).sum(dim=0)
            out[n] = res / w.sum(dim=0) if normalize else res
        elif method == "slerp":
            tt = parameter(cfg, "t", n, t, required=True)
            other = [m for m, _ in entries if m != base_ref][0]
            out[n] = torch.from_numpy(slerp(tt, base[n].numpy(), tensors_of[other][n].numpy()))
        else:
            spars, consensus, dnorm, dresc = GTA[method]
            normalize = parameter(cfg, "normalize", n, t, default=dnorm)
            rescale = parameter(cfg, "rescale", n, t, default=dresc)
            lam = parameter(cfg, "lambda", n, t, default=1.0)
            tvs = []
            for m, p in entries:
                if m == base_ref:
                    continue
                w = parameter(cfg, "weight", n, t, p, required=True)
                dens = parameter(cfg, "density", n, t, p, default=1.0)
                gamma = parameter(cfg, "gamma", n, t, p, default=0.01)
                d = tensors_of[m][n] - base[n]
                if spars:
                    d = sparsify(spars, d, dens, gamma, rescale)
                tvs.append((d, w))
            deltas = torch.stack([d for d, _ in tvs], dim=0)
            w = torch.tensor([x for _, x in tvs], dtype=deltas.dtype)
            while len(deltas.shape) > len(w.shape):
                w.unsqueeze_(-1)
            wd = deltas * w
            if consensus:
                sign = wd.sign()
                majority = (wd.sum(dim=0) >= 0).to(wd.dtype) * 2 - 1
                mask = (sign == majority).to(wd.dtype)
                mixed = (wd * mask).sum(dim=0)
                div = (w * mask).sum(dim=0)
                div[div == 0] = 1
            else:
                mixed = wd.sum(dim=0)
                div = w.sum(dim=0)
                div[div.abs() < 1e-8] = 1
            if normalize:
                mixed /= div
            if lam != 1:
                mixed *= lam
            out[n] = (base[n] + mixed).to(base[n].dtype)
    return out


def slerp(t, v0, v1, dot_threshold=0.9995, eps=1e-8):
    c0, c1 = np.copy(v0), np.copy(v1)
    n0, n1 = np.linalg.norm(v0), np.linalg.norm(v1)
    if n0 > eps:
        v0 = v0 / n0
    if n1 > eps:
        v1 = v1 / n1
    dot = np.sum(v0 * v1)
    if np.abs(dot) > dot_threshold:
        return ((1 - t) * c0 + t * c1).astype(np.float32)
    theta0 = np.arccos(dot)
    s0 = np.sin(theta0 - theta0 * t) / np.sin(theta0)
    s1 = np.sin(theta0 * t) / np.sin(theta0)
    return (s0 * c0 + s1 * c1).astype(np.float32)


CASES = {
    # mergekit examples/ties.yml (density and weight gradients, a filtered weight), tiny models
    "ties_example": """
models:
  - model: m1
    parameters:
      density: [1, 0.7, 0.1] # density gradient
      weight: 1.0
  - model: m2
    parameters:
      density: 0.5
      weight: [0, 0.3, 0.7, 1] # weight gradient
  - model: m3
    parameters:
      density: 0.33
      weight:
        - filter: mlp
          value: 0.5
        - value: 0
merge_method: ties
base_model: base
parameters:
  normalize: true
  int8_mask: true
dtype: float32
""",
    # mergekit examples/gradient-slerp.yml in its models: form
    "slerp_gradient": """
models:
  - model: base
  - model: m1
merge_method: slerp
base_model: base
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5 # fallback for rest of tensors
dtype: float32
""",
    # per-model filters without a fallback fall through to the global value, then the default;
    # filter "*" matches everything; epsilon has no effect; normalize falls through to ties' default
    "filter_fallthrough": """
models:
  - model: m1
    parameters:
      weight:
        - filter: mlp
          value: 0.8
      density:
        - filter: self_attn
          value: 0.4
  - model: m2
    parameters:
      weight: 0.3
      density:
        - filter: "*"
          value: 0.7
merge_method: ties
base_model: base
parameters:
  weight: 0.5
  density: 0.6
  lambda: [1.0, 0.5]
  normalize:
    - filter: lm_head
      value: false
  epsilon: 0.1
dtype: float32
""",
    # density (and rescale, epsilon) on task_arithmetic: accepted, no effect
    "task_arithmetic_density": """
models:
  - model: m1
    parameters:
      weight: 0.7
      density: 0.5
  - model: m2
    parameters:
      weight: [0.2, 0.6]
      density: 0.3
merge_method: task_arithmetic
base_model: base
parameters:
  lambda: 0.9
  rescale: true
  epsilon: 0.15
dtype: float32
""",
    # BASE+LORA inputs (a model with a LoRA applied) in a task-vector merge
    "lora_task_arithmetic": """
models:
  - model: base+lora
    parameters:
      weight: 1.0
  - model: m1
    parameters:
      weight: 0.5
merge_method: task_arithmetic
base_model: base
dtype: float32
""",
    # linear with a base_model not under models (merged as a third input, global weight),
    # and a MODEL+LORA input
    "linear_unlisted_base": """
models:
  - model: m1+lora
    parameters:
      weight: 0.6
  - model: m2
    parameters:
      weight: 0.4
merge_method: linear
base_model: base
parameters:
  weight: 0.25
dtype: float32
""",
    # base_model with a LoRA applied
    "ties_lora_base": """
models:
  - model: m1
    parameters:
      weight: 1.0
      density: 0.5
  - model: m2
    parameters:
      weight: 0.5
      density: 0.8
merge_method: ties
base_model: base+lora
dtype: float32
""",
    # rescale: true is mergekit's L1-norm preservation
    "breadcrumbs_rescale": """
models:
  - model: m1
    parameters:
      weight: 0.6
      density: 0.5
      gamma: 0.1
  - model: m2
    parameters:
      weight: 0.4
      density: 0.7
      gamma: 0.125
merge_method: breadcrumbs
base_model: base
parameters:
  rescale: true
dtype: float32
""",
    "breadcrumbs_ties_rescale": """
models:
  - model: m1
    parameters:
      weight: 1.0
      density: 0.6
      gamma: 0.1
  - model: m3
    parameters:
      weight: 0.8
      density: 0.4
      gamma: 0.1
merge_method: breadcrumbs_ties
base_model: base
parameters:
  rescale: true
  lambda: 1.2
dtype: float32
""",
    "ties_rescale": """
models:
  - model: m1
    parameters:
      weight: 0.5
      density: 0.5
  - model: m2
    parameters:
      weight: 0.5
      density: 0.3
merge_method: ties
base_model: base
parameters:
  rescale: true
dtype: float32
""",
}


def main():
    global MK_SPARSIFY
    ap = argparse.ArgumentParser()
    ap.add_argument("--mergekit-sparsify", help="path of a copy of mergekit/sparsify.py to cross-check with")
    args = ap.parse_args()
    if args.mergekit_sparsify:
        spec = importlib.util.spec_from_file_location("mk_sparsify", args.mergekit_sparsify)
        MK_SPARSIFY = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(MK_SPARSIFY)

    g = torch.Generator().manual_seed(20261203)
    base = {n: torch.randn(shape(n), generator=g) for n in names()}
    models = {"base": base}
    for k, scale in (("m1", 0.05), ("m2", 0.08), ("m3", 0.03)):
        models[k] = {n: base[n] + torch.randn(shape(n), generator=g) * scale for n in names()}
    lora = {}
    for i in range(L):
        for mod, (o, inn) in ((f"model.layers.{i}.self_attn.q_proj", (H, H)), (f"model.layers.{i}.mlp.up_proj", (I, H))):
            lora[mod] = (torch.randn((R, inn), generator=g) * 0.1, torch.randn((o, R), generator=g) * 0.1)
    models["lora"] = lora

    shutil.rmtree(ROOT, ignore_errors=True)
    for k in ("base", "m1", "m2", "m3"):
        write_model(os.path.join(ROOT, "models", k), models[k])
    ld = os.path.join(ROOT, "models", "lora")
    os.makedirs(ld)
    write_safetensors(os.path.join(ld, "adapter_model.safetensors"),
                      {f"base_model.model.{m}.lora_{x}.weight": t for m, (a, b) in lora.items() for x, t in (("A", a), ("B", b))})
    with open(os.path.join(ld, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "r": R, "lora_alpha": ALPHA, "lora_dropout": 0.0, "bias": "none",
                   "target_modules": ["q_proj", "up_proj"], "use_rslora": False, "fan_in_fan_out": False,
                   "base_model_name_or_path": "base", "task_type": "CAUSAL_LM"}, f, indent=2, sort_keys=True)

    os.makedirs(os.path.join(ROOT, "configs"))
    for case, text in CASES.items():
        cfg = yaml.safe_load(text)
        out = merge(cfg, models)
        d = os.path.join(ROOT, "expected", case)
        os.makedirs(d)
        write_safetensors(os.path.join(d, "model.safetensors"), out)
        # the YAML as given, with the model names as paths relative to the config file
        rel = text
        for k in ("base", "m1", "m2", "m3", "lora"):
            rel = rel.replace(f"model: {k}\n", f"model: ../models/{k}\n").replace(f"model: {k}+", f"model: ../models/{k}+") \
                     .replace(f"+{k}\n", f"+../models/{k}\n").replace(f"base_model: {k}\n", f"base_model: ../models/{k}\n")
        with open(os.path.join(ROOT, "configs", case + ".yml"), "w") as f:
            f.write(rel.lstrip())
        print(f"{case}: {len(out)} tensors")
    print("checked against mergekit's sparsify.py" if MK_SPARSIFY else "no --mergekit-sparsify: own sparsify only")


if __name__ == "__main__":
    main()
