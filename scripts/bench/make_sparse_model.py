#!/usr/bin/env python3
"""A Hugging Face model directory whose weights are all zero, in a sparse file: for memory benchmarks.

    python3 scripts/bench/make_sparse_model.py SHAPE OUT_DIR [--dtype BF16|F16|F32]

SHAPE: 0.84b  LlamaForCausalLM, hidden 2048, intermediate 5632, 16 layers, 32 heads / 4 KV heads, vocab 32000
       7b     MistralForCausalLM (Mistral-7B-v0.1's shape): hidden 4096, intermediate 14336, 32 layers,
              32 heads / 8 KV heads, vocab 32000
       tiny   a 2-layer Llama (hidden 64) for rehearsing the scripts in seconds

model.safetensors gets a valid header (every tensor, offsets tiling the data) and is then truncated to its full
size: the data section is a hole, so the file costs no disk and reads as zeros, loading like a real checkpoint.
The directory also gets the Llama-2 tokenizer from src/test/resources/tokenizers/llama2 (32000 tokens, a
zephyr-style chat template) and two small JSONL files whose every example is longer than 4096 tokens, so any
max_length up to that truncates every row to exactly max_length: sft.jsonl (messages) and pref.jsonl
(prompt / chosen / rejected). Needs only the Python standard library.
"""
import argparse
import json
import os
import random
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import safetensors_io as st  # noqa: E402

SHAPES = {
    "0.84b": dict(arch="LlamaForCausalLM", model_type="llama", hidden=2048, inter=5632, layers=16, heads=32, kv=4),
    "7b": dict(arch="MistralForCausalLM", model_type="mistral", hidden=4096, inter=14336, layers=32, heads=32, kv=8),
    "tiny": dict(arch="LlamaForCausalLM", model_type="llama", hidden=64, inter=160, layers=2, heads=4, kv=2),
}
VOCAB = 32000
SIZES = {"BF16": 2, "F16": 2, "F32": 4}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def tensors(s):
    h, i, hd = s["hidden"], s["inter"], s["hidden"] // s["heads"]
    yield "model.embed_tokens.weight", [VOCAB, h]
    for l in range(s["layers"]):
        p = f"model.layers.{l}."
        yield p + "input_layernorm.weight", [h]
        yield p + "self_attn.q_proj.weight", [s["heads"] * hd, h]
        yield p + "self_attn.k_proj.weight", [s["kv"] * hd, h]
        yield p + "self_attn.v_proj.weight", [s["kv"] * hd, h]
        yield p + "self_attn.o_proj.weight", [h, s["heads"] * hd]
        yield p + "post_attention_layernorm.weight", [h]
        yield p + "mlp.gate_proj.weight", [i, h]
        yield p + "mlp.up_proj.weight", [i, h]
        yield p + "mlp.down_proj.weight", [h, i]
    yield "model.norm.weight", [h]
    yield "lm_head.weight", [VOCAB, h]


def write_model(shape, out, dtype):
    s = SHAPES[shape]
    off = st.write_zeros(os.path.join(out, "model.safetensors"), dict(tensors(s)), dtype, metadata={"format": "pt"})
    cfg = {
        "architectures": [s["arch"]], "model_type": s["model_type"], "hidden_size": s["hidden"],
        "intermediate_size": s["inter"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
        "num_key_value_heads": s["kv"], "vocab_size": VOCAB, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "max_position_embeddings": 32768 if shape == "7b" else 4096, "hidden_act": "silu",
        "tie_word_embeddings": False, "torch_dtype": {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[dtype],
        "bos_token_id": 1, "eos_token_id": 2,
    }
    if shape == "7b":
        cfg["sliding_window"] = 4096
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return off


def write_data(out):
    rng = random.Random(13)
    words = ["model", "memory", "layer", "token", "weight", "gradient", "batch", "sequence", "adapter", "sparse",
             "merge", "preference", "the", "of", "and", "a", "to", "in", "is", "that", "for", "with", "on", "as"]
    text = lambda n: " ".join(rng.choice(words) for _ in range(n))
    with open(os.path.join(out, "sft.jsonl"), "w") as f:
        for _ in range(16):
            f.write(json.dumps({"messages": [{"role": "user", "content": text(20)},
                                             {"role": "assistant", "content": text(5000)}]}) + "\n")
    with open(os.path.join(out, "pref.jsonl"), "w") as f:
        for _ in range(16):
            f.write(json.dumps({"prompt": text(20), "chosen": text(5000), "rejected": text(5000)}) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shape", choices=sorted(SHAPES))
    ap.add_argument("out")
    ap.add_argument("--dtype", default="BF16", choices=sorted(SIZES))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    size = write_model(a.shape, a.out, a.dtype)
    tok = os.path.join(ROOT, "src", "test", "resources", "tokenizers", "llama2")
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(os.path.join(tok, f), os.path.join(a.out, f))
    write_data(a.out)
    print(f"{a.out}: {a.shape} ({a.dtype}), {size / 2**30:.2f} GiB of weights in a sparse file")


if __name__ == "__main__":
    main()
