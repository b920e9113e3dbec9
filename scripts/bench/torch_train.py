#!/usr/bin/env python3
"""Plain-PyTorch reference of paft's LoRA SFT and DPO training steps (scripts/bench/run-all.sh).

Same math as paft: Llama blocks (RMSNorm, RoPE rotate_half, causal + padding additive mask, SwiGLU),
LoRA r 8 on q,k,v,o as PEFT (y = x W^T + scaling * (x A^T) B^T), SFT loss = mean CE over labelled
tokens + l1_lambda * sum(|A| + |B|), DPO sigmoid loss with reference log-probs from the same model
with the adapter off under no_grad, global-norm clipping (clip_grad_norm_), torch.optim.AdamW.
Same weights and batch: DIR (written by `TrainBench prepare`) is read with a hand-written
safetensors reader (no safetensors package needed).

  torch_train.py run DIR STEPS       1 warm-up + STEPS SFT steps, then DPO; RESULT lines
  torch_train.py phases DIR STEPS    per-phase times (forward, backward, clip, AdamW, zero)
  torch_train.py matmul [N] [REPS]   N x N float32 matmul GFLOP/s
  torch_train.py profile DIR TRACE   profiler trace of one SFT forward + backward (profile_summary.py reads it)
Threads: PAFT_THREADS (default 2). Device: PAFT_DEVICE (default cpu; "cuda" on a GPU machine, scripts/bench/gpu.sh).
Precision: PAFT_PRECISION=fp32 (default: explicit attention, everything float32) or bf16 (training.precision: bf16 as
transformers + PEFT with a bf16 base: frozen weights and activations bf16, F.scaled_dot_product_attention, RMSNorm,
the LoRA branch, final norm, LM head and losses float32; LoRA factors and AdamW state float32). PAFT_MATMUL_DTYPE=bf16
makes `matmul` measure the bf16 rate (the MFU denominator of a bf16 run).
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import safetensors_io as st  # noqa: E402

torch.set_num_threads(int(os.environ.get("PAFT_THREADS", "2")))
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

MASK_NEG = -1e9
DEV = torch.device(os.environ.get("PAFT_DEVICE", "cpu"))
BF16 = os.environ.get("PAFT_PRECISION", "fp32") == "bf16"
CD = torch.bfloat16 if BF16 else torch.float32   # compute dtype of the decoder


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def read_safetensors(path):
    """{name: float32 tensor} on DEV (scripts/lib/safetensors_io.py)."""
    return st.read(path, dtypes=("F32",), device=DEV)


class Model:
    """Llama causal LM with an optional LoRA branch on q,k,v,o (PEFT layout)."""

    def __init__(self, d):
        self.cfg = json.load(open(os.path.join(d, "config.json")))
        self.w = read_safetensors(os.path.join(d, "model.safetensors"))
        acfg = json.load(open(os.path.join(d, "adapter", "adapter_config.json")))
        self.scaling = acfg["lora_alpha"] / acfg["r"]
        self.lora = {}
        for k, v in read_safetensors(os.path.join(d, "adapter", "adapter_model.safetensors")).items():
            # base_model.model.<module>.lora_A.weight
            mod = k[len("base_model.model."):].rsplit(".lora_", 1)
            self.lora.setdefault(mod[0], {})[mod[1][0]] = torch.nn.Parameter(v.clone())
        self.enabled = True
        c = self.cfg
        self.h, self.kv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"] // c["num_attention_heads"]
        self.eps = c["rms_norm_eps"]
        inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        self.inv_freq = inv.to(DEV)
        if BF16:   # frozen projections and embeddings held in bf16 (model.dtype: bf16); norms stay float32
            for k in list(self.w):
                if not k.endswith("norm.weight") and k != "lm_head.weight":
                    self.w[k] = self.w[k].to(torch.bfloat16)

    def params(self):
        return [p for m in self.lora.values() for p in (m["A"], m["B"])]

    def proj(self, x, layer, name, block):
        key = f"model.layers.{layer}.{block}.{name}"
        y = F.linear(x, self.w[key + ".weight"])
        m = self.lora.get(key) if self.enabled else None
        if m is not None:   # PEFT: the branch in the factors' dtype (float32), added in the base's dtype
            y = y + (F.linear(F.linear(x.to(m["A"].dtype), m["A"]), m["B"]) * self.scaling).to(y.dtype)
        return y

    @staticmethod
    def rms(x, w, eps):
        xf = x.float()   # statistics in float32 (transformers' LlamaRMSNorm); the output back in x's dtype
        return (xf / torch.sqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w).to(x.dtype)

    @staticmethod
    def rotate_half(x):
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)

    def forward(self, ids, attn_mask):
        b, t = ids.shape
        pos = torch.arange(t, dtype=torch.float32, device=DEV)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(CD), emb.sin().to(CD)                            # [T, D]
        ar = torch.arange(t, device=DEV)
        causal = (ar[None, :] > ar[:, None]).float() * MASK_NEG
        mask = (attn_mask.float() - 1).mul(-MASK_NEG).view(b, 1, 1, t) + causal  # [B, 1, T, T]
        mask = mask.to(CD)
        x = F.embedding(ids, self.w["model.embed_tokens.weight"]).to(CD)
        scale = 1.0 / math.sqrt(self.hd)
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            hn = self.rms(x, self.w[p + "input_layernorm.weight"], self.eps)
            q = self.proj(hn, i, "q_proj", "self_attn").view(b, t, self.h, self.hd).transpose(1, 2)
            k = self.proj(hn, i, "k_proj", "self_attn").view(b, t, self.kv, self.hd).transpose(1, 2)
            v = self.proj(hn, i, "v_proj", "self_attn").view(b, t, self.kv, self.hd).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if BF16:   # fused attention (flash / memory-efficient on CUDA), as paft's bf16 path
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=self.kv != self.h)
                o = o.transpose(1, 2).reshape(b, t, self.h * self.hd)
            else:
                if self.kv != self.h:
                    k = k.repeat_interleave(self.h // self.kv, dim=1)
                    v = v.repeat_interleave(self.h // self.kv, dim=1)
                s = (q * scale) @ k.transpose(-1, -2) + mask
                o = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, self.h * self.hd)
            x = x + self.proj(o, i, "o_proj", "self_attn")
            hn = self.rms(x, self.w[p + "post_attention_layernorm.weight"], self.eps)
            g = F.linear(hn, self.w[p + "mlp.gate_proj.weight"])
            u = F.linear(hn, self.w[p + "mlp.up_proj.weight"])
            x = x + F.linear(F.silu(g) * u, self.w[p + "mlp.down_proj.weight"])
        x = self.rms(x.float(), self.w["model.norm.weight"], self.eps)   # final norm and LM head in float32
        return F.linear(x, self.w["lm_head.weight"])


def label_logps(logits, labels):
    """Per-token log-probs [B, T-1] of shifted labels (-100 ignored: 0) and the mask."""
    lg, lb = logits[:, :-1], labels[:, 1:]
    mask = lb != -100
    lp = lg.log_softmax(-1).gather(-1, lb.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, lp, torch.zeros_like(lp)), mask


def load_batch(d):
    j = json.load(open(os.path.join(d, "batch.json")))
    ids = torch.tensor(j["sft_ids"], dtype=torch.int64, device=DEV)
    sft = (ids, ids.clone(), torch.ones_like(ids))
    pairs = j["dpo"]
    k = len(pairs)
    rows, labels = [], []
    for side in ("chosen", "rejected"):
        for p in pairs:
            rows.append(p["prompt"] + p[side])
            labels.append([-100] * len(p["prompt"]) + p[side])
    t = max(len(r) for r in rows)
    mask = [[1] * len(r) + [0] * (t - len(r)) for r in rows]
    rows = [r + [0] * (t - len(r)) for r in rows]
    labels = [r + [-100] * (t - len(r)) for r in labels]
    dpo = (torch.tensor(rows, device=DEV), torch.tensor(labels, device=DEV), torch.tensor(mask, device=DEV), k)
    return j, sft, dpo


def sft_loss(model, batch, l1_lambda):
    ids, labels, mask = batch
    lp, m = label_logps(model.forward(ids, mask), labels)
    ce = -lp.sum() / m.sum().clamp(min=1)
    l1 = sum(p.abs().sum() for p in model.params())
    return ce + l1_lambda * l1 if l1_lambda > 0 else ce


def dpo_loss(model, batch, beta):
    ids, labels, mask, k = batch
    lp, _ = label_logps(model.forward(ids, mask), labels)
    pol = lp.sum(1)
    with torch.no_grad():
        model.enabled = False
        ref = label_logps(model.forward(ids, mask), labels)[0].sum(1)
        model.enabled = True
    z = beta * ((pol[:k] - ref[:k]) - (pol[k:] - ref[k:]))
    return -F.logsigmoid(z).mean()


def step(model, opt, loss_fn, max_norm):
    loss = loss_fn()
    loss.backward()
    lv = loss.item()
    gn = torch.nn.utils.clip_grad_norm_(model.params(), max_norm).item()
    opt.step()
    opt.zero_grad(set_to_none=False)
    sync()
    return lv, gn


def run(d, steps):
    j, sft, dpo = load_batch(d)
    tokens = int(sft[0].numel())
    for kind in ("sft", "dpo"):
        reset_peak_rss()
        model = Model(d)   # fresh adapter, as paft reloads it
        opt = torch.optim.AdamW(model.params(), lr=j["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        fn = (lambda: sft_loss(model, sft, j["l1_lambda"])) if kind == "sft" else (lambda: dpo_loss(model, dpo, j["dpo_beta"]))
        times, first = [], None
        for i in range(steps + 1):
            t0 = time.perf_counter()
            lv, gn = step(model, opt, fn, j["max_grad_norm"])
            times.append(time.perf_counter() - t0)
            if first is None:
                first = (lv, gn)
        timed = times[1:]
        print(f"RESULT impl=torch kind={kind} loss0={first[0]:.6f} gnorm0={first[1]:.6f} tokens={tokens} "
              f"warm_s={times[0]:.4f} step_s={','.join(f'{x:.4f}' for x in timed)} min_s={min(timed):.4f} "
              f"mean_s={sum(timed) / len(timed):.4f} peak_rss_mb={peak_rss_mb()}", flush=True)
        del model, opt, fn   # freed before the next kind's peak is measured


def reset_peak_rss():
    """Peak RSS (VmHWM) back to the current RSS (Linux), so each kind's peak is its own, as TrainBench."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


def phases(d, steps):
    j, sft, dpo = load_batch(d)
    model = Model(d)
    opt = torch.optim.AdamW(model.params(), lr=j["lr"], eps=1e-8, weight_decay=0.0)
    names = ["sft.forward", "sft.backward", "sft.clip", "sft.adamw", "sft.zero", "fb.forward", "fb.backward"]
    t = {n: [] for n in names}

    def timed(fn, prefix, update):
        t0 = time.perf_counter()
        loss = fn()
        t1 = time.perf_counter()
        loss.backward()
        loss.item()
        t2 = time.perf_counter()
        if update:
            torch.nn.utils.clip_grad_norm_(model.params(), j["max_grad_norm"])
        t3 = time.perf_counter()
        if update:
            opt.step()
        t4 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        t5 = time.perf_counter()
        return [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]

    for i in range(-1, steps):
        s = timed(lambda: sft_loss(model, sft, j["l1_lambda"]), "sft", True)
        f = timed(lambda: sft_loss(model, sft, 0.0), "fb", False)
        if i >= 0:
            for k in range(5):
                t[names[k]].append(s[k])
            t["fb.forward"].append(f[0])
            t["fb.backward"].append(f[1])
    print("RESULT impl=torch kind=phases " + " ".join(f"{n}={min(v):.4f}/{sum(v) / len(v):.4f}" for n, v in t.items())
          + "  (min/mean seconds)", flush=True)


def profile(d, out):
    """torch.autograd.profiler over one SFT forward + backward after a warm-up: a Chrome trace at out."""
    j, sft, _ = load_batch(d)
    model = Model(d)
    sft_loss(model, sft, j["l1_lambda"]).backward()
    with torch.autograd.profiler.profile() as prof:
        t0 = time.perf_counter()
        loss = sft_loss(model, sft, j["l1_lambda"])
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
    prof.export_chrome_trace(out)
    print(f"RESULT impl=torch kind=profile forward_s={t1 - t0:.3f} backward_s={t2 - t1:.3f} trace={out}", flush=True)


def micro(reps):
    def t(name, fn):
        fn()
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        print(f"RESULT impl=torch kind=micro op={name} best_ms={best * 1e3:.3f}", flush=True)
    x, head, logits = torch.randn(2, 256, 256), torch.randn(32000, 256), torch.randn(2, 256, 32000)
    q, small = torch.randn(2, 8, 256, 32), torch.randn(8, 256)

    def adds():
        acc = small + small
        for _ in range(99):
            acc = acc + small
        return acc
    t("lm_head_linear", lambda: F.linear(x, head))
    t("log_softmax_shifted", lambda: logits[:, :-1].log_softmax(-1))
    t("qk_matmul", lambda: q @ q.transpose(-1, -2))
    p4 = torch.randn(2, 8, 256, 256)
    t("pv_matmul", lambda: p4 @ q)
    t("tiny_add_x100", adds)


def matmul(n, reps):
    dt = torch.bfloat16 if os.environ.get("PAFT_MATMUL_DTYPE") == "bf16" else torch.float32
    a, b = torch.randn(n, n, device=DEV, dtype=dt), torch.randn(n, n, device=DEV, dtype=dt)
    a @ b
    sync()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - t0)
    print(f"RESULT impl=torch kind=matmul n={n} dtype={str(dt)[6:]} best_s={best:.5f} gflops={2.0 * n ** 3 / best / 1e9:.1f}", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "run":
        run(sys.argv[2], int(sys.argv[3]))
    elif mode == "phases":
        phases(sys.argv[2], int(sys.argv[3]))
    elif mode == "profile":
        profile(sys.argv[2], sys.argv[3])
    elif mode == "micro":
        micro(int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    elif mode == "matmul":
        matmul(int(sys.argv[2]) if len(sys.argv) > 2 else 2048, int(sys.argv[3]) if len(sys.argv) > 3 else 10)
    else:
        sys.exit(__doc__)
