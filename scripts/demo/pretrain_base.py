#!/usr/bin/python3
"""Pretrain the bundled tiny Llama base model on the demo world's prose corpus.

Plain PyTorch, following Hugging Face LlamaForCausalLM's math exactly (RMSNorm in float32,
rotate_half RoPE, grouped-query attention with repeat_kv, SwiGLU MLP, tied embeddings).
Full-parameter AdamW, fixed seeds, 2 threads. Writes a Hugging Face model directory
(config.json, model.safetensors written by hand, generation_config.json, tokenizer files
copied from make_demo_data.py's output) and a JSON report of the base model's quality.

Run make_demo_data.py first.
"""
import os

# Passive OpenMP waiting: on shared, oversubscribed cores PyTorch's spinning OpenMP threads
# make a step ~8x slower. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json
import math
import random
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_tok import BOS, EOS, Tokenizer, render_chat  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import safetensors_io as st  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


# ----------------------------------------------------------------------------- model
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(seq_len, head_dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    pos = torch.arange(seq_len, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def repeat_kv(x, n_rep):
    b, kvh, t, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kvh, n_rep, t, d).reshape(b, kvh * n_rep, t, d)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, hd = c["hidden_size"], c["head_dim"]
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.q_proj = nn.Linear(h, self.nh * hd, bias=False)
        self.k_proj = nn.Linear(h, self.nkv * hd, bias=False)
        self.v_proj = nn.Linear(h, self.nkv * hd, bias=False)
        self.o_proj = nn.Linear(self.nh * hd, h, bias=False)
        self.gate_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], h, bias=False)
        self.input_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(h, c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        hs = self.input_layernorm(x)
        q = self.q_proj(hs).view(b, t, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(hs).view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(hs).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, self.nh // self.nkv), repeat_kv(v, self.nh // self.nkv)
        att = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hd) + mask
        att = F.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(att, v).transpose(1, 2).reshape(b, t, -1)
        x = x + self.o_proj(o)
        hs = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(hs)) * self.up_proj(hs))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        for m in self.modules():  # HF _init_weights: normal(0, initializer_range), norms = 1
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=c["initializer_range"])

    def forward(self, ids):
        t = ids.shape[1]
        cos, sin = rope_cos_sin(t, self.c["head_dim"], self.c["rope_theta"])
        cos, sin = cos.to(ids.device), sin.to(ids.device)
        mask = torch.full((t, t), float("-inf"), device=ids.device).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return F.linear(self.norm(x), self.embed_tokens.weight)  # tied lm_head

    def hf_state_dict(self):
        sd = {"model.embed_tokens.weight": self.embed_tokens.weight}
        for i, l in enumerate(self.layers):
            p = f"model.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                sd[p + f"self_attn.{n}.weight"] = getattr(l, n).weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                sd[p + f"mlp.{n}.weight"] = getattr(l, n).weight
            sd[p + "input_layernorm.weight"] = l.input_layernorm.weight
            sd[p + "post_attention_layernorm.weight"] = l.post_attention_layernorm.weight
        sd["model.norm.weight"] = self.norm.weight
        return {k: v.detach().to(torch.float32).contiguous() for k, v in sd.items()}


# ----------------------------------------------------------------------------- files
def write_safetensors(path, tensors, metadata=None):
    st.write(path, {k: tensors[k] for k in sorted(tensors)}, default="F32", metadata=metadata, metadata_first=False)


def read_safetensors(path):
    return {k: v.float() for k, v in st.read(path, dtypes=("F32",)).items()}


# ----------------------------------------------------------------------------- eval
@torch.no_grad()
def seq_logprobs(model, ids):
    logits = model(torch.tensor([ids]))[0].float()
    lp = F.log_softmax(logits[:-1], dim=-1)
    return lp.gather(1, torch.tensor(ids[1:])[:, None])[:, 0]


@torch.no_grad()
def perplexity(model, tok, docs):
    nll, n = 0.0, 0
    for d in docs:
        ids = tok.encode(d) + [EOS]
        lp = seq_logprobs(model, ids)
        nll -= lp.sum().item()
        n += len(lp)
    return math.exp(nll / n)


@torch.no_grad()
def mc_accuracy(model, tok, items):
    """lm-eval style: acc (sum log-prob of the choice) and acc_norm (divided by its char length)."""
    acc = acc_norm = 0
    for it in items:
        ctx = tok.encode(it["context"])
        scores = []
        for ch in it["choices"]:
            cont = tok.encode(ch, add_special_tokens=False)
            lp = seq_logprobs(model, ctx + cont)[len(ctx) - 1:]
            scores.append((lp.sum().item(), lp.sum().item() / len(ch)))
        acc += int(max(range(len(scores)), key=lambda i: scores[i][0]) == it["gold"])
        acc_norm += int(max(range(len(scores)), key=lambda i: scores[i][1]) == it["gold"])
    return acc / len(items), acc_norm / len(items)


@torch.no_grad()
def greedy(model, tok, text, max_new=16):
    ids = tok.encode(text)
    start = len(ids)
    for _ in range(max_new):
        nxt = int(model(torch.tensor([ids]))[0, -1].argmax())
        ids.append(nxt)
        if nxt == EOS:
            break
    return tok.decode(ids[start:], skip_special_tokens=False)


@torch.no_grad()
def fact_probe(model, tok, facts, vals_by_rel):
    """Does the base know the facts? For each fact, the stem of its first pretraining statement
    ("tom lives in") and argmax of the next-token log-prob over that relation's values."""
    stems = {"city": "{n} lives in", "colour": "the favourite colour of {n} is", "pet": "the pet of {n} is a",
             "food": "the favourite food of {n} is", "plus": "{a} plus {b} is"}
    ok = 0
    for rel, subj, v in facts:
        s = stems[rel].format(a=subj[0], b=subj[-1], n=subj[0])
        logits = model(torch.tensor([tok.encode(s)]))[0, -1]
        cand = vals_by_rel[rel]
        best = max(cand, key=lambda x: logits[tok.vocab[x]].item())
        ok += int(best == v)
    return ok / len(facts)


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--assets", default=os.path.join(ROOT, "src/main/resources/dev/paft/demo"))
    ap.add_argument("--build", default=os.path.join(ROOT, "target/demo-build"))
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda; evaluation always runs on cpu")
    ap.add_argument("--eval-only", action="store_true", help="evaluate the saved model, do not train")
    ap.add_argument("--report", default=os.path.join(ROOT, "scripts/demo/pretrain_report.json"))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    t0 = time.time()

    model_dir = os.path.join(args.assets, "model")
    data_dir = os.path.join(args.assets, "data")
    tok = Tokenizer.load(os.path.join(model_dir, "tokenizer.json"))
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": len(tok.vocab), "hidden_size": 128, "intermediate_size": 344,
        "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
        "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "rope_scaling": None, "tie_word_embeddings": True,
        "attention_bias": False, "attention_dropout": 0.0, "mlp_bias": False, "pretraining_tp": 1,
        "initializer_range": 0.02, "bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": 0,
        "use_cache": True, "torch_dtype": "float32", "transformers_version": "4.46.0",
    }
    model = Llama(cfg).to(args.device)
    with open(os.path.join(args.build, "pretrain_train.txt")) as f:
        docs = f.read().splitlines()
    with open(os.path.join(args.build, "pretrain_valid.txt")) as f:
        valid = f.read().splitlines()
    report = {"config": {k: cfg[k] for k in ("vocab_size", "hidden_size", "intermediate_size",
                                              "num_hidden_layers", "num_attention_heads", "num_key_value_heads")}}

    if not args.eval_only:
        stream = []
        for d in docs:
            stream.extend(tok.encode(d) + [EOS])
        stream = torch.tensor(stream, dtype=torch.long, device=args.device)
        n_seq = (len(stream) - 1) // args.seq
        print(f"{len(stream)} training tokens, {n_seq} sequences of {args.seq}; "
              f"{args.steps} steps x {args.batch} = {args.steps * args.batch / n_seq:.2f} epochs", flush=True)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / args.warmup) * (
            0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps)))))
        g = torch.Generator().manual_seed(args.seed)
        order = torch.randperm(n_seq, generator=g)
        pos = 0
        model.train()
        log = []
        for step in range(args.steps):
            if pos + args.batch > n_seq:
                order, pos = torch.randperm(n_seq, generator=g), 0
            idx = order[pos:pos + args.batch].to(args.device) * args.seq
            pos += args.batch
            batch = torch.stack([stream[i:i + args.seq + 1] for i in idx.tolist()])
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            if step % 50 == 0 or step == args.steps - 1:
                print(f"step {step:5d} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.2e} "
                      f"{time.time() - t0:.0f}s", flush=True)
                log.append([step, round(loss.item(), 4)])
        report["train"] = {"steps": args.steps, "batch": args.batch, "seq": args.seq, "lr": args.lr,
                           "tokens_seen": args.steps * args.batch * args.seq, "loss_log": log,
                           "train_seconds": round(time.time() - t0, 1), "threads": args.threads,
                           "device": args.device, "torch": torch.__version__}
        os.makedirs(model_dir, exist_ok=True)
        model = model.cpu()
        write_safetensors(os.path.join(model_dir, "model.safetensors"), model.hf_state_dict(),
                          {"format": "pt"})
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        with open(os.path.join(model_dir, "generation_config.json"), "w") as f:
            json.dump({"_from_model_config": True, "bos_token_id": BOS, "eos_token_id": EOS,
                       "pad_token_id": 0, "do_sample": False, "max_new_tokens": 32,
                       "transformers_version": "4.46.0"}, f, indent=2)
            f.write("\n")

    # reload from disk: the report describes the file we ship
    sd = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    model = Llama(cfg)
    model.embed_tokens.weight.data.copy_(sd["model.embed_tokens.weight"])
    own = {"model.embed_tokens.weight": model.embed_tokens.weight, "model.norm.weight": model.norm.weight}
    for i, l in enumerate(model.layers):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            own[p + f"self_attn.{n}.weight"] = getattr(l, n).weight
        for n in ("gate_proj", "up_proj", "down_proj"):
            own[p + f"mlp.{n}.weight"] = getattr(l, n).weight
        own[p + "input_layernorm.weight"] = l.input_layernorm.weight
        own[p + "post_attention_layernorm.weight"] = l.post_attention_layernorm.weight
    assert set(own) == set(sd), set(own) ^ set(sd)
    for k, v in sd.items():
        own[k].data.copy_(v)
    model.eval()

    t1 = time.time()
    ppl = perplexity(model, tok, valid[:200])
    world = json.load(open(os.path.join(args.build, "world.json")))
    import make_demo_data as mdd
    vals = {r: mdd.values(r) for r in ("city", "colour", "pet", "food", "plus")}
    tf = [(r, tuple(s), v) for r, s, v in world["train_facts"]]
    hf = [(r, tuple(s), v) for r, s, v in world["test_facts"]]
    task = [json.loads(l) for l in open(os.path.join(data_dir, "task_mc.jsonl"))]
    pref = [json.loads(l) for l in open(os.path.join(data_dir, "pref_mc.jsonl"))]
    sft_test = [json.loads(l) for l in open(os.path.join(data_dir, "sft_test.jsonl"))]
    sft_ppl = perplexity(model, tok, [render_chat(r["messages"]) for r in sft_test])
    prompts = ["tom lives in", "the favourite colour of anna is", "3 plus 4 is", "if you add 5 and 6 you get",
               "ben has a", "lisa said : thank you ! max said :",
               render_chat([{"role": "user", "content": "where does tom live ?"}], add_generation_prompt=True)]
    report["eval"] = {
        "valid_perplexity": round(ppl, 3),
        "uniform_perplexity": len(tok.vocab),
        "sft_test_perplexity_full_text": round(sft_ppl, 3),
        "fact_probe_acc_all": round(fact_probe(model, tok, tf + hf, vals), 4),
        "fact_probe_acc_heldout_facts": round(fact_probe(model, tok, hf, vals), 4),
        "task_mc_acc_acc_norm": [round(x, 4) for x in mc_accuracy(model, tok, task)],
        "pref_mc_acc_acc_norm": [round(x, 4) for x in mc_accuracy(model, tok, pref)],
        "greedy": {p: greedy(model, tok, p) for p in prompts},
        "eval_seconds": round(time.time() - t1, 1),
    }
    print(json.dumps(report["eval"], indent=1))
    # reference logits of the shipped weights, for the Java engine's tests
    cases = []
    with torch.no_grad():
        for text in ["tom lives in", "what is 3 plus 4 ?",
                     render_chat([{"role": "user", "content": "where does tom live ?"}], add_generation_prompt=True)]:
            ids = tok.encode(text)
            logits = model(torch.tensor([ids]))[0].float()
            cases.append({"text": text, "ids": ids,
                          "last_logits": [round(x, 5) for x in logits[-1].tolist()],
                          "sum_logprob": round(seq_logprobs(model, ids).sum().item(), 5)})
    fx = os.path.join(ROOT, "src/test/resources/dev/paft/demo")
    os.makedirs(fx, exist_ok=True)
    with open(os.path.join(fx, "model_logits_fixture.json"), "w") as f:
        json.dump({"note": "HF-Llama forward of the bundled model.safetensors in float32 (pretrain_base.py); "
                           "sum_logprob = sum over positions 1.. of log p(token | prefix), ids include <s>",
                   "cases": cases}, f)
        f.write("\n")
    if not args.eval_only:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
