#!/usr/bin/python3
"""Golden fixtures for dev.paft.model / dev.paft.lora tests.

Run with Debian's PyTorch:   /usr/bin/python3 scripts/golden/make_model_golden.py
Writes tiny HF model dirs (config.json + model.safetensors), PEFT adapter dirs and golden.safetensors
(inputs, logits, label log-probs, LoRA gradients) under src/test/resources/model/.

The reference Llama below is plain PyTorch written from Hugging Face's LlamaForCausalLM / Qwen2 math
(rotate_half RoPE, Llama-3 rope_scaling, repeat_kv, float32 RMSNorm, SwiGLU, causal + padding mask
with finfo.min) and PEFT's LoRA forward (y = W x + b + scaling * B(A(x))). It shares no code with paft.
"""
import json, math, os, sys
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import safetensors_io as st  # noqa: E402

torch.set_grad_enabled(True)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "test", "resources", "model")
PROJ = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
        "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}

# ---------------------------------------------------------------- safetensors (scripts/lib/safetensors_io.py)
def write_safetensors(path, tensors, dtypes=None, default="F32"):
    st.write(path, tensors, dtypes=dtypes, default=default, metadata={"format": "pt"}, metadata_first=False)

def rounded(t, dtype):
    """What a reader sees after the file round-trip (widened to float32)."""
    return {"F32": t.float(), "F16": t.half().float(), "BF16": t.bfloat16().float()}[dtype]

# ---------------------------------------------------------------- reference model
def inv_freq_of(cfg):
    d = cfg["head_dim"]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wl, high_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        inv_l = torch.where(wl > low_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wl < high_wl) * ~(wl > low_wl)
        inv = torch.where(medium, smoothed, inv_l)
    return inv

def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)

def rmsnorm(x, w, eps):
    xf = x.float()
    var = xf.pow(2).mean(-1, keepdim=True)
    return w * (xf * torch.rsqrt(var + eps))

def repeat_kv(x, n):
    b, h, t, d = x.shape
    return x if n == 1 else x[:, :, None, :, :].expand(b, h, n, t, d).reshape(b, h * n, t, d)

def forward(W, cfg, ids, mask, lora=None, scaling=1.0):
    B, T = ids.shape
    H, KV, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]

    def lin(x, mod):
        y = x @ W[mod + ".weight"].t()
        if mod + ".bias" in W:
            y = y + W[mod + ".bias"]
        if lora is not None and mod in lora:
            a, b = lora[mod]
            y = y + (x @ a.t()) @ b.t() * scaling
        return y

    h = W["model.embed_tokens.weight"][ids]
    pos = torch.arange(T).float()
    freqs = pos[:, None] * inv_freq_of(cfg)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mn = torch.finfo(torch.float32).min
    causal = torch.full((T, T), mn).triu(1)[None, None].expand(B, 1, T, T).clone()
    padm = causal.eq(0.0) * mask[:, None, None, :].eq(0)
    amask = causal.masked_fill(padm, mn)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rmsnorm(h, W[p + "input_layernorm.weight"], eps)
        q = lin(x, p + "self_attn.q_proj").view(B, T, H, D).transpose(1, 2)
        k = lin(x, p + "self_attn.k_proj").view(B, T, KV, D).transpose(1, 2)
        v = lin(x, p + "self_attn.v_proj").view(B, T, KV, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // KV), repeat_kv(v, H // KV)
        s = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D) + amask
        pr = torch.softmax(s, dim=-1, dtype=torch.float32)
        o = torch.matmul(pr, v).transpose(1, 2).reshape(B, T, H * D)
        h = h + lin(o, p + "self_attn.o_proj")
        x = rmsnorm(h, W[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(lin(x, p + "mlp.gate_proj")) * lin(x, p + "mlp.up_proj")
        h = h + lin(g, p + "mlp.down_proj")
    h = rmsnorm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return h @ head.t()

def label_logprobs(logits, labels):
    lg, lb = logits[:, :-1], labels[:, 1:]
    keep = lb.ne(-100)
    lp = torch.log_softmax(lg, -1).gather(-1, lb.clamp(min=0)[..., None])[..., 0] * keep
    return lp, keep

# ---------------------------------------------------------------- fixtures
def make_weights(cfg, gen, std=0.15):
    Hd, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    W = {"model.embed_tokens.weight": torch.randn(V, Hd, generator=gen)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        W[p + "self_attn.q_proj.weight"] = torch.randn(H * D, Hd, generator=gen) * std
        W[p + "self_attn.k_proj.weight"] = torch.randn(KV * D, Hd, generator=gen) * std
        W[p + "self_attn.v_proj.weight"] = torch.randn(KV * D, Hd, generator=gen) * std
        W[p + "self_attn.o_proj.weight"] = torch.randn(Hd, H * D, generator=gen) * std
        if cfg["bias"]:
            for m, n in (("q_proj", H * D), ("k_proj", KV * D), ("v_proj", KV * D)):
                W[p + f"self_attn.{m}.bias"] = torch.randn(n, generator=gen) * 0.5
        W[p + "mlp.gate_proj.weight"] = torch.randn(I, Hd, generator=gen) * std
        W[p + "mlp.up_proj.weight"] = torch.randn(I, Hd, generator=gen) * std
        W[p + "mlp.down_proj.weight"] = torch.randn(Hd, I, generator=gen) * std
        W[p + "input_layernorm.weight"] = 1 + 0.2 * torch.randn(Hd, generator=gen)
        W[p + "post_attention_layernorm.weight"] = 1 + 0.2 * torch.randn(Hd, generator=gen)
    W["model.norm.weight"] = 1 + 0.2 * torch.randn(Hd, generator=gen)
    if not cfg["tie_word_embeddings"]:
        W["lm_head.weight"] = torch.randn(V, Hd, generator=gen) * std
    return W

def module_shapes(cfg, mod):
    Hd, I = cfg["hidden_size"], cfg["intermediate_size"]
    H, KV, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    return {"q_proj": (H * D, Hd), "k_proj": (KV * D, Hd), "v_proj": (KV * D, Hd), "o_proj": (Hd, H * D),
            "gate_proj": (I, Hd), "up_proj": (I, Hd), "down_proj": (Hd, I)}[mod]

def build(name, arch, dtype, tied, bias, rope_theta, rope_scaling, adapter, gen_seed):
    gen = torch.Generator().manual_seed(gen_seed)
    cfg = {"hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4, "num_key_value_heads": 2,
           "num_hidden_layers": 2, "vocab_size": 160, "rms_norm_eps": 1e-5 if arch != "Qwen2ForCausalLM" else 1e-6,
           "rope_theta": rope_theta, "tie_word_embeddings": tied, "bias": bias}
    cfg["head_dim"] = cfg["hidden_size"] // cfg["num_attention_heads"]
    if rope_scaling:
        cfg["rope_scaling"] = rope_scaling
    W = make_weights(cfg, gen)
    W = {k: rounded(v, dtype) for k, v in W.items()}     # what the file holds
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    hf = {"architectures": [arch], "model_type": {"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral",
                                                 "Qwen2ForCausalLM": "qwen2"}[arch],
          "hidden_size": cfg["hidden_size"], "intermediate_size": cfg["intermediate_size"],
          "num_attention_heads": cfg["num_attention_heads"], "num_key_value_heads": cfg["num_key_value_heads"],
          "num_hidden_layers": cfg["num_hidden_layers"], "vocab_size": cfg["vocab_size"],
          "rms_norm_eps": cfg["rms_norm_eps"], "rope_theta": rope_theta, "rope_scaling": rope_scaling,
          "tie_word_embeddings": tied, "max_position_embeddings": 128, "hidden_act": "silu",
          "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
          "bos_token_id": 1, "eos_token_id": 2}
    if arch == "MistralForCausalLM":
        hf["sliding_window"] = None
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hf, f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), W, default=dtype)

    # inputs: three right-padded rows of lengths 10, 7, 4; labels ignore the first 2 (prompt) tokens and pads
    B, T = 3, 10
    lens = [10, 7, 4]
    ids = torch.randint(3, cfg["vocab_size"], (B, T), generator=gen)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(lens):
        mask[b, :n] = 1
        ids[b, n:] = 0
    labels = ids.clone()
    labels[:, :2] = -100
    labels[mask.eq(0)] = -100

    out = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    with torch.no_grad():
        logits = forward(W, cfg, ids, mask)
        # padded batch == each row alone (on real positions)
        for b, n in enumerate(lens):
            alone = forward(W, cfg, ids[b:b + 1, :n], mask[b:b + 1, :n])
            err = (alone[0] - logits[b, :n]).abs().max() / logits.abs().max()
            assert err < 1e-5, (name, float(err))
    lp, keep = label_logprobs(logits, labels)
    out["logits"] = logits
    out["token_logprobs"] = lp
    out["sum_logprobs"] = lp.sum(-1)
    out["count"] = keep.sum(-1)

    if adapter:
        r, alpha, targets, rslora = adapter["r"], adapter["alpha"], adapter["targets"], adapter.get("rslora", False)
        scaling = alpha / math.sqrt(r) if rslora else alpha / r
        lora, peft = {}, {}
        for i in range(cfg["num_hidden_layers"]):
            for m in targets:
                mod = f"model.layers.{i}.{PROJ[m]}.{m}"
                o, n = module_shapes(cfg, m)
                a = (torch.rand(r, n, generator=gen) * 2 - 1) / math.sqrt(n)
                b = torch.randn(o, r, generator=gen) * 0.1
                lora[mod] = (a.requires_grad_(True), b.requires_grad_(True))
                peft[f"base_model.model.{mod}.lora_A.weight"] = a.detach()
                peft[f"base_model.model.{mod}.lora_B.weight"] = b.detach()
        ad = os.path.join(ROOT, name + "-adapter")
        os.makedirs(ad, exist_ok=True)
        write_safetensors(os.path.join(ad, "adapter_model.safetensors"), peft)
        with open(os.path.join(ad, "adapter_config.json"), "w") as f:
            json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha, "lora_dropout": 0.0,
                       "target_modules": targets, "bias": "none", "fan_in_fan_out": False, "use_rslora": rslora,
                       "base_model_name_or_path": name, "modules_to_save": None, "inference_mode": True}, f, indent=2)
        logits_l = forward(W, cfg, ids, mask, lora, scaling)
        lp_l, keep = label_logprobs(logits_l, labels)
        loss = -lp_l.sum() / keep.sum()          # mean token cross-entropy over labelled tokens
        loss.backward()
        out["lora_logits"] = logits_l.detach()
        out["lora_token_logprobs"] = lp_l.detach()
        out["lora_sum_logprobs"] = lp_l.detach().sum(-1)
        out["lora_loss"] = loss.detach().reshape(())
        for mod, (a, b) in lora.items():
            out[f"grad.{mod}.lora_A"] = a.grad
            out[f"grad.{mod}.lora_B"] = b.grad
    write_safetensors(os.path.join(d, "golden.safetensors"), out)
    print(name, "written; logits range", float(logits.min()), float(logits.max()))

def check_kaiming():
    # PEFT initializes lora_A with kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(in), 1/sqrt(in))
    w = torch.empty(8, 4096)
    torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    bound = 1 / math.sqrt(4096)
    assert w.abs().max() <= bound and w.abs().max() > 0.999 * bound, (float(w.abs().max()), bound)
    print("kaiming_uniform(a=sqrt(5)) bound = 1/sqrt(fan_in) confirmed:", float(w.abs().max()), bound)

if __name__ == "__main__":
    torch.manual_seed(0)
    check_kaiming()
    all_mods = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    build("llama", "LlamaForCausalLM", "F32", False, False, 10000.0, None,
          {"r": 4, "alpha": 8, "targets": all_mods}, 1)
    build("llama-tied-bf16", "LlamaForCausalLM", "BF16", True, False, 10000.0, None, None, 2)
    build("qwen2-f16", "Qwen2ForCausalLM", "F16", False, True, 1000000.0, None,
          {"r": 8, "alpha": 16, "targets": ["q_proj", "v_proj"], "rslora": True}, 3)
    build("llama3-scaled", "LlamaForCausalLM", "F32", False, False, 500000.0,
          {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
           "original_max_position_embeddings": 64}, None, 4)
    build("mistral", "MistralForCausalLM", "F32", True, False, 10000.0, None,
          {"r": 2, "alpha": 4, "targets": ["o_proj", "down_proj"]}, 5)
