#!/usr/bin/python3
"""Golden values for dev.paft.train.loss and dev.paft.train.optim.

Reference: PyTorch (Debian's python3-torch 1.13), float64 for losses, float32 for the
optimizer (as the Java side). Inputs are float32 values so both sides start from the same
numbers. Formulas follow TRL's DPOTrainer.dpo_loss / ORPOTrainer.odds_ratio_loss and HF's
get_*_schedule_with_warmup; PyTorch's own AdamW and clip_grad_norm_ are called directly.

Run from the repository root:
    /usr/bin/python3 scripts/golden/train_parts.py
writes src/test/resources/train/golden_losses.json and golden_optim.json.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = "src/test/resources/train"
rng = np.random.default_rng(20261107)


def f32(a):
    """float32 values, as a float64 tensor holding them exactly."""
    return torch.tensor(np.asarray(a, dtype=np.float32).astype(np.float64))


def lst(t):
    return t.detach().double().reshape(-1).tolist() if t.dim() > 0 else [t.item()]


# ---------- token log-probs and cross-entropy ----------
def token_logprob_case(B, T, V, shift):
    logits = f32(rng.normal(0, 2, size=(B, T, V)))
    labels = torch.tensor(rng.integers(0, V, size=(B, T)), dtype=torch.int64)
    labels[0, :2] = -100          # prompt
    labels[1, -1] = -100          # padding
    logits.requires_grad_(True)
    lg, lb = (logits[:, :-1], labels[:, 1:]) if shift else (logits, labels)
    mask = lb != -100
    lp = torch.gather(lg.log_softmax(-1), 2, lb.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    sums = lp.sum(-1)
    counts = mask.sum(-1).double()
    ce = F.cross_entropy(lg.reshape(-1, V), lb.reshape(-1), ignore_index=-100)
    ce.backward()
    return {
        "shift": shift, "shape": [B, T, V], "logits": lst(logits), "labels": labels.reshape(-1).tolist(),
        "per_token": lst(lp), "sum": lst(sums), "count": lst(counts), "mean": lst(sums / counts.clamp(min=1)),
        "ce": ce.item(), "ce_grad_logits": lst(logits.grad),
    }


# ---------- L1 penalty ----------
def l1_case():
    mods = []
    total_f, total_d = 0.0, 0.0
    tensors = []
    for (r, i, o, s) in [(2, 5, 4, 2.0), (3, 4, 6, 0.5)]:
        A = f32(rng.normal(0, 1, size=(r, i))).requires_grad_(True)
        B = f32(rng.normal(0, 1, size=(o, r))).requires_grad_(True)
        tensors.append((A, B, s))
    factors = sum(A.abs().sum() + B.abs().sum() for A, B, _ in tensors)
    delta = sum((s * (B @ A)).abs().sum() for A, B, s in tensors)
    gf = torch.autograd.grad(factors, [t for A, B, _ in tensors for t in (A, B)])
    gd = torch.autograd.grad(delta, [t for A, B, _ in tensors for t in (A, B)])
    for k, (A, B, s) in enumerate(tensors):
        mods.append({"a_shape": list(A.shape), "b_shape": list(B.shape), "scaling": s,
                     "a": lst(A), "b": lst(B),
                     "factors_grad_a": lst(gf[2 * k]), "factors_grad_b": lst(gf[2 * k + 1]),
                     "delta_grad_a": lst(gd[2 * k]), "delta_grad_b": lst(gd[2 * k + 1])})
    return {"modules": mods, "factors": factors.item(), "delta": delta.item()}


# ---------- preference losses (TRL formulas) ----------
def log1mexp(x):
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def rewards_metrics(cr, rr, pc, pr):
    cr, rr = cr.detach(), rr.detach()
    return {"rewards/chosen": cr.mean(), "rewards/rejected": rr.mean(),
            "rewards/accuracies": (cr > rr).double().mean(), "rewards/margins": (cr - rr).mean(),
            "logps/chosen": pc.detach().mean(), "logps/rejected": pr.detach().mean()}


def pref_loss(name, beta, ls, pc, pr, rc, rr, nc, nr, nll):
    if name == "ipo":
        # TRL >= 0.29 (DPOTrainer._compute_loss): the loss uses per-token averaged log-ratios; rewards and
        # logps are logged summed, as for the other losses (TRL <= 0.28 logged the averages).
        delta = (pc - rc) / nc - (pr - rr) / nr
        losses = (delta - 1 / (2 * beta)) ** 2
        return losses.mean(), rewards_metrics(beta * (pc - rc), beta * (pr - rr), pc, pr)
    if name == "orpo":
        lpc, lpr = pc / nc, pr / nr
        log_odds = (lpc - lpr) - (log1mexp(lpc) - log1mexp(lpr))
        ratio = F.logsigmoid(log_odds)
        loss = nll - (beta * ratio).mean()
        m = rewards_metrics(beta * lpc, beta * lpr, lpc, lpr)
        m.update({"nll_loss": nll.detach(), "log_odds_ratio": ratio.mean().detach(),
                  "log_odds_chosen": log_odds.mean().detach()})
        return loss, m
    logits = (pc - pr) - (rc - rr)
    if name == "sigmoid":
        losses = -F.logsigmoid(beta * logits) * (1 - ls) - F.logsigmoid(-beta * logits) * ls
    elif name == "hinge":
        losses = torch.relu(1 - beta * logits)
    return losses.mean(), rewards_metrics(beta * (pc - rc), beta * (pr - rr), pc, pr)


def pref_case(name, beta, ls, scale):
    B = 5
    nc = torch.tensor(rng.integers(3, 40, size=B)).double()
    nr = torch.tensor(rng.integers(3, 40, size=B)).double()
    pc = f32(-nc.numpy() * rng.uniform(0.5, 1.5, size=B) * scale).requires_grad_(True)
    pr = f32(-nr.numpy() * rng.uniform(0.5, 1.5, size=B) * scale).requires_grad_(True)
    rc = f32(pc.detach().numpy() + rng.normal(0, 3 * scale, size=B))
    rr = f32(pr.detach().numpy() + rng.normal(0, 3 * scale, size=B))
    nll = f32(rng.uniform(0.5, 2.0)).requires_grad_(True)
    loss, metrics = pref_loss(name, beta, ls, pc, pr, rc, rr, nc, nr, nll)
    g = torch.autograd.grad(loss, [pc, pr, nll], allow_unused=True)
    return {"loss_type": name, "beta": beta, "label_smoothing": ls,
            "policy_chosen": lst(pc), "policy_rejected": lst(pr), "ref_chosen": lst(rc), "ref_rejected": lst(rr),
            "chosen_tokens": lst(nc), "rejected_tokens": lst(nr), "chosen_nll": nll.item(),
            "loss": loss.item(), "metrics": {k: v.item() for k, v in metrics.items()},
            "grad_policy_chosen": lst(g[0]), "grad_policy_rejected": lst(g[1]),
            "grad_chosen_nll": 0.0 if g[2] is None else g[2].item()}


def losses():
    pref = []
    for name, beta, ls in [("sigmoid", 0.1, 0.0), ("sigmoid", 0.01, 0.0), ("sigmoid", 0.1, 0.2),
                           ("ipo", 0.1, 0.0), ("hinge", 0.1, 0.0), ("hinge", 0.05, 0.0), ("orpo", 0.1, 0.0)]:
        pref.append(pref_case(name, beta, ls, 1.0))
    # ORPO near log-prob 0 (confident model): averaged log-probs around -1e-3 exercise log1mexp near 0.
    pref.append(pref_case("orpo", 0.1, 0.0, 1e-3))
    pref.append(pref_case("orpo", 0.25, 0.0, 0.05))
    xs = [-1e-8, -1e-6, -1e-3, -0.1, -0.5, -0.69, -0.7, -1.0, -5.0, -20.0, -50.0, -100.0]
    xt = torch.tensor(np.asarray(xs, dtype=np.float32).astype(np.float64), requires_grad=True)
    y = log1mexp(xt)
    gx = torch.autograd.grad(y.sum(), xt)[0]
    return {
        "token_logprobs": [token_logprob_case(2, 6, 7, False), token_logprob_case(3, 5, 11, True)],
        "l1": l1_case(),
        "preference": pref,
        "log1mexp": {"x": lst(xt), "y": lst(y), "grad": lst(gx)},
    }


# ---------- optimizer pieces ----------
def adamw_case():
    torch.manual_seed(0)
    shapes = {"layers.0.q_proj.lora_A": [3, 4], "layers.0.q_proj.lora_B": [5, 3], "bias": [6]}
    init = {k: rng.normal(0, 1, size=s).astype(np.float32) for k, s in shapes.items()}
    params = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    cfg = {"beta1": 0.9, "beta2": 0.98, "eps": 1e-6, "weight_decay": 0.05}
    opt = torch.optim.AdamW(list(params.values()), lr=1e-3, betas=(cfg["beta1"], cfg["beta2"]),
                            eps=cfg["eps"], weight_decay=cfg["weight_decay"], foreach=False)
    steps = []
    lrs = [2e-2, 1e-2, 5e-3, 2e-2, 1e-3]
    for lr in lrs:
        grads = {k: rng.normal(0, 0.5, size=s).astype(np.float32) for k, s in shapes.items()}
        for k, p in params.items():
            p.grad = torch.tensor(grads[k])
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        steps.append({"lr": lr, "grads": {k: v.reshape(-1).astype(np.float64).tolist() for k, v in grads.items()},
                      "params": {k: lst(p) for k, p in params.items()}})
    return {"config": cfg, "shapes": shapes,
            "init": {k: v.reshape(-1).astype(np.float64).tolist() for k, v in init.items()}, "steps": steps}


def clip_case(max_norm, scale):
    grads = [torch.tensor(rng.normal(0, scale, size=s).astype(np.float32)) for s in [(4, 3), (7,), (2, 5)]]
    ps = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    return {"max_norm": max_norm, "shapes": [list(g.shape) for g in grads], "grads": [lst(g) for g in grads],
            "norm": norm.item(), "clipped": [lst(p.grad) for p in ps]}


def hf_multiplier(kind, step, warmup, total):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    if kind == "constant":
        return 1.0
    if kind == "linear":
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    progress = float(step - warmup) / float(max(1, total - warmup))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(0.5) * 2.0 * progress)))


def schedules():
    cases = []
    for kind in ["cosine", "linear", "constant"]:
        for warmup, total in [(0, 10), (3, 20), (10, 100), (5, 5), (1, 1)]:
            cases.append({"kind": kind, "warmup": warmup, "total": total,
                          "multipliers": [hf_multiplier(kind, s, warmup, total) for s in range(total + 2)]})
    ratios = [{"total": t, "ratio": r, "warmup": math.ceil(t * r)}
              for t, r in [(100, 0.1), (30, 0.1), (61135, 0.1), (7, 0.0), (3, 0.5), (1000, 0.03)]]
    return {"cases": cases, "warmup_from_ratio": ratios}


def optim():
    return {"adamw": adamw_case(), "clip": [clip_case(1.0, 1.0), clip_case(100.0, 1.0), clip_case(0.5, 1e-3)],
            "schedules": schedules()}


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in [("golden_losses.json", losses()), ("golden_optim.json", optim())]:
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(data, f, indent=1)
        print("wrote", os.path.join(OUT, name))
