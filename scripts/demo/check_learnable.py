#!/usr/bin/python3
"""Sanity check of the demo design, in plain PyTorch: are the SFT task and the preference
learnable by LoRA (r 8) in a few hundred steps at batch 8 on the bundled base, and do they teach
different things? Trains an SFT LoRA and a DPO LoRA (sigmoid, reference = base) from the base,
then reports task_mc / pref_mc accuracy for base, SFT, DPO, sequential SFT->DPO and the plain
sum of both deltas (task arithmetic, weight 1). Reference numbers for paft's own implementation;
paft's demo does the real thing. Takes a few minutes on 2 cores.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_tok import EOS, Tokenizer, render_chat  # noqa: E402
from pretrain_base import Llama, mc_accuracy, read_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class LoraLinear(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        self.scaling = alpha / r
        self.enabled = True

    def forward(self, x):
        y = self.base(x)
        return y + self.scaling * (x @ self.A.t() @ self.B.t()) if self.enabled else y

    def delta(self):
        return (self.scaling * self.B @ self.A).detach()


def load_base(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    m = Llama(cfg)
    sd = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    own = dict(m.named_parameters())
    for k, v in sd.items():
        name = k[len("model."):].replace("self_attn.", "").replace("mlp.", "")
        own[name].data.copy_(v)
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def add_lora(m, r, alpha):
    mods = []
    for layer in m.layers:
        for t in TARGETS:
            ll = LoraLinear(getattr(layer, t), r, alpha)
            setattr(layer, t, ll)
            mods.append(ll)
    return mods


def set_enabled(mods, on):
    for x in mods:
        x.enabled = on


def merge_into_base(m, mods_list, weights):
    """Fold deltas into the base weights, remove the LoRA wrappers."""
    for li, layer in enumerate(m.layers):
        for ti, t in enumerate(TARGETS):
            wrapped = getattr(layer, t)
            base = wrapped.base
            for mods, w in zip(mods_list, weights):
                base.weight.data += w * mods[li * len(TARGETS) + ti].delta()
            setattr(layer, t, base)


def pack(tok, prompt, completion):
    p = tok.encode(render_chat([{"role": "user", "content": prompt}], add_generation_prompt=True))
    c = tok.encode(completion, add_special_tokens=False) + [EOS]
    return p, c


def batch_logps(m, pairs):
    """Sum of completion log-probs for a list of (prompt_ids, completion_ids); right padding."""
    L = max(len(p) + len(c) for p, c in pairs)
    ids = torch.zeros(len(pairs), L, dtype=torch.long)
    mask = torch.zeros(len(pairs), L)
    for i, (p, c) in enumerate(pairs):
        ids[i, :len(p) + len(c)] = torch.tensor(p + c)
        mask[i, len(p):len(p) + len(c)] = 1
    lp = F.log_softmax(m(ids)[:, :-1].float(), -1).gather(2, ids[:, 1:, None])[..., 0]
    return (lp * mask[:, 1:]).sum(1), mask[:, 1:].sum(1)


def train(m, mods, data, steps, bs, lr, kind, beta, rng, l1=0.0):
    params = [p for x in mods for p in (x.A, x.B)]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    order = []
    for step in range(steps):
        if len(order) < bs:
            order = list(range(len(data)))
            rng.shuffle(order)
        b = [data[order.pop()] for _ in range(bs)]
        if kind == "sft":
            lp, n = batch_logps(m, b)
            loss = -(lp.sum() / n.sum())
            if l1:
                loss = loss + l1 * sum(p.abs().sum() for p in params)
        else:
            ch, rj = [x[0] for x in b], [x[1] for x in b]
            with torch.no_grad():
                set_enabled(mods, False)
                rc, _ = batch_logps(m, ch)
                rr, _ = batch_logps(m, rj)
                set_enabled(mods, True)
            pc, _ = batch_logps(m, ch)
            pr, _ = batch_logps(m, rj)
            logits = beta * ((pc - rc) - (pr - rr))
            loss = -F.logsigmoid(logits).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"  {kind} step {step:4d} loss {loss.item():.4f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--assets", default=os.path.join(ROOT, "src/main/resources/dev/paft/demo"))
    ap.add_argument("--sft-steps", type=int, default=200)
    ap.add_argument("--dpo-steps", type=int, default=200)
    ap.add_argument("--sft-lr", type=float, default=1e-3)
    ap.add_argument("--dpo-lr", type=float, default=5e-4)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--eval-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    t0 = time.time()
    md, dd = os.path.join(args.assets, "model"), os.path.join(args.assets, "data")
    tok = Tokenizer.load(os.path.join(md, "tokenizer.json"))
    rd = lambda n: [json.loads(l) for l in open(os.path.join(dd, n))]  # noqa: E731
    sft = [pack(tok, r["messages"][0]["content"], r["messages"][1]["content"]) for r in rd("sft_train.jsonl")]
    pref = [(pack(tok, r["prompt"], r["chosen"]), pack(tok, r["prompt"], r["rejected"])) for r in rd("pref_train.jsonl")]
    task_mc = rd("task_mc.jsonl")[: args.eval_n]
    pref_mc = rd("pref_mc.jsonl")[: args.eval_n]
    results = {}

    def ev(name, m):
        m.eval()
        with torch.no_grad():
            results[name] = {"task_acc": mc_accuracy(m, tok, task_mc)[0], "pref_acc": mc_accuracy(m, tok, pref_mc)[0]}
        print(f"{name:28s} task_mc {results[name]['task_acc']:.3f}  pref_mc {results[name]['pref_acc']:.3f}"
              f"  ({time.time() - t0:.0f}s)", flush=True)

    ev("base", load_base(md))
    m_sft = load_base(md)
    sft_mods = add_lora(m_sft, 8, 16)
    train(m_sft, sft_mods, sft, args.sft_steps, 8, args.sft_lr, "sft", 0, rng)
    ev("sft", m_sft)
    m_dpo = load_base(md)
    dpo_mods = add_lora(m_dpo, 8, 16)
    train(m_dpo, dpo_mods, pref, args.dpo_steps, 8, args.dpo_lr, "dpo", args.beta, rng)
    ev("dpo", m_dpo)
    m_par = load_base(md)
    add_lora(m_par, 8, 16)
    merge_into_base(m_par, [sft_mods, dpo_mods], [1.0, 1.0])
    ev("parallel sum (task arith 1,1)", m_par)
    m_seq = load_base(md)
    add_lora(m_seq, 8, 16)
    merge_into_base(m_seq, [sft_mods], [1.0])
    seq_mods = add_lora(m_seq, 8, 16)
    train(m_seq, seq_mods, pref, args.dpo_steps, 8, args.dpo_lr, "dpo", args.beta, rng)
    ev("sequential sft->dpo", m_seq)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
