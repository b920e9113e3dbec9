#!/usr/bin/env python3
"""Golden merges for mergekit's config forms (slices, modules, tokenizer), for
dev.paft.merge.MergeConfigFormsTest (issue 16, item 3).

Run with Debian's PyTorch (torch + numpy + yaml):  /usr/bin/python3 scripts/golden/make_merge_config_golden.py

Writes under src/test/resources/merge/config/:
  models/{base,a,b,d,e,f}/ tiny Llama-shaped float32 models, 3 layers (c: 2 layers), hidden 4, each with a
                           WordLevel tokenizer.json (base, a, b, c share one vocabulary; d and e differ)
  configs/<case>.yml       mergekit YAMLs (paths relative to the config file)
  expected/<case>/model.safetensors + expected.json (num_hidden_layers, vocab_size, the output vocabulary)

The expected values follow mergekit's sources (a6e4028; read, not imported), written here anew:
  mergekit/plan.py        slices: output layer k of a slice is each source's layer start+offset, t = offset/(n-1)
                          (1 for a one-layer slice); tensors before the layers from slices[0]'s sources, after
                          from slices[-1]'s, at t = 0; modules.models: one slice of every layer, an unlisted
                          base appended as a source
  mergekit/config.py      ConfigReader.parameter: source, slice, module, global parameters, the default
  mergekit/tokenizer/build.py   union: the base's vocabulary, then each model's plain tokens it lacks, then
                          the added tokens; add_tokens gives ids past the vocabulary
  mergekit/tokenizer/embed.py   PermutedEmbeddings: own row unless force; defaults: the configured source,
                          the one model holding the token, the base's row, the mean, zeros; padding rows the mean
It shares no code with paft. Where mergekit's order follows Python set iteration (which model's new tokens
come first, which model is the tokenizer base without base_model), this script takes the config's order, as paft does.
"""
import json
import os
import shutil
import struct

import numpy as np
import torch
import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "test", "resources", "merge", "config")
H, I = 4, 6

TOK_A = ["<unk>", "<s>", "</s>", "x", "y", "z"]
TOK_D = ["<unk>", "<s>", "</s>", "x", "w", "y", "q"]  # + added <|im_end|> at 7
TOK_E = ["<unk>", "<s>", "</s>", "q", "x", "y"]


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy()).reshape(v["shape"])
    return out


def tokenizer_json(plain, added):
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for c, i in added],
        "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": {t: i for i, t in enumerate(plain)}, "unk_token": "<unk>"},
    }


def write_model(name, layers, vocab, added, gen):
    d = os.path.join(ROOT, "models", name)
    os.makedirs(d, exist_ok=True)
    v = len(vocab) + len(added)
    t = {"model.embed_tokens.weight": torch.randn(v, H, generator=gen)}
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = torch.randn(H, H, generator=gen)
        t[p + "mlp.up_proj.weight"] = torch.randn(I, H, generator=gen)
        t[p + "input_layernorm.weight"] = torch.randn(H, generator=gen)
    t["model.norm.weight"] = torch.randn(H, generator=gen)
    t["lm_head.weight"] = torch.randn(v, H, generator=gen)
    write_safetensors(os.path.join(d, "model.safetensors"), t)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": H, "intermediate_size": I,
           "num_attention_heads": 2, "num_key_value_heads": 2, "num_hidden_layers": layers, "vocab_size": v,
           "torch_dtype": "float32"}
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    json.dump(tokenizer_json(vocab, added), open(os.path.join(d, "tokenizer.json"), "w"), indent=2)
    tc = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
          "added_tokens_decoder": {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False,
                                            "single_word": False, "special": True} for c, i in added},
          "chat_template": "{{ messages }}"}
    json.dump(tc, open(os.path.join(d, "tokenizer_config.json"), "w"), indent=2)
    return t


def vocab_of(plain, added):
    v = {t: i for i, t in enumerate(plain)}
    for c, i in added:
        v[c] = i
    return v


# ---------------------------------------------------------------- mergekit's parameter reader

def evaluate(setting, tensor, t):
    if isinstance(setting, (int, float, bool, str)):
        return setting
    if all(isinstance(e, (int, float)) for e in setting):
        scaled = t * (len(setting) - 1)
        i0 = int(scaled)
        i1 = min(len(setting) - 1, i0 + 1)
        frac = scaled - i0
        return (1 - frac) * setting[i0] + frac * setting[i1]
    for c in setting:
        if c.get("filter") is None or c["filter"] == "*" or c["filter"] in tensor:
            return evaluate(c["value"], tensor, t)
    return None


def param(name, tensor, t, levels, default=None):
    for lv in levels:
        if lv and name in lv:
            v = evaluate(lv[name], tensor, t)
            if v is not None:
                return v
    return default


def linear(tensors, weights, normalize=True):
    s = torch.stack(tensors)
    w = torch.tensor(weights, dtype=torch.float32).view(-1, *([1] * (s.dim() - 1)))
    r = (w * s).sum(0)
    return r / w.sum(0) if normalize else r


def renumber(name, k):
    parts = name.split(".")
    return ".".join(str(k) if i == 2 and parts[1] == "layers" else p for i, p in enumerate(parts))


def plan_slices(cfg, models, merge_fn, module_params=None):
    """mergekit's plan_module for one module: returns the output tensors."""
    slices = cfg["slices"]
    out = {}
    first, last = slices[0], slices[-1]
    for n in ["model.embed_tokens.weight"]:
        out[n] = merge_fn(n, [(s["model"], n, s.get("parameters")) for s in first["sources"]], first, 0.0, module_params)
    k = 0
    for sl in slices:
        length = sl["sources"][0]["layer_range"][1] - sl["sources"][0]["layer_range"][0]
        for off in range(length):
            t = off / (length - 1) if length > 1 else 1.0
            for suffix in ["self_attn.q_proj.weight", "mlp.up_proj.weight", "input_layernorm.weight"]:
                srcs = [(s["model"], f"model.layers.{s['layer_range'][0] + off}.{suffix}", s.get("parameters")) for s in sl["sources"]]
                out[f"model.layers.{k}.{suffix}"] = merge_fn(f"model.layers.{k}.{suffix}", srcs, sl, t, module_params)
            k += 1
    for n in ["model.norm.weight", "lm_head.weight"]:
        out[n] = merge_fn(n, [(s["model"], n, s.get("parameters")) for s in last["sources"]], last, 0.0, module_params)
    return out, k


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(os.path.join(ROOT, "configs"))
    gen = torch.Generator().manual_seed(16)
    M = {}
    for name, layers in [("base", 3), ("a", 3), ("b", 3), ("c", 2)]:
        M[name] = write_model(name, layers, TOK_A, [], gen)
    M["d"] = write_model("d", 3, TOK_D, [("<|im_end|>", 7)], gen)
    M["e"] = write_model("e", 3, TOK_E, [], gen)
    M["f"] = write_model("f", 3, TOK_A, [], gen)  # a third fine-tune for MergekitExamplesTest (drawn last: the others unchanged)
    V = {n: vocab_of(TOK_A, []) for n in ["base", "a", "b", "c"]}
    V["d"] = vocab_of(TOK_D, [("<|im_end|>", 7)])
    V["e"] = vocab_of(TOK_E, [])

    def model_of(ref):
        return ref.split("/")[-1]

    cases = {}

    # 1. a frankenmerge: 2 layers of c then 2 of b (layers 1, 2), linear of one source = the source
    cases["frankenmerge"] = {
        "slices": [{"sources": [{"model": "../models/c", "layer_range": [0, 2]}]},
                   {"sources": [{"model": "../models/b", "layer_range": [1, 3]}]}],
        "merge_method": "linear", "parameters": {"weight": 1.0}, "dtype": "float32"}

    # 2. linear slices with a weight gradient over each slice's layers, source > slice > global precedence
    cases["slice_linear_gradient"] = {
        "slices": [
            {"sources": [{"model": "../models/a", "layer_range": [0, 3], "parameters": {"weight": [1.0, 0.25]}},
                         {"model": "../models/b", "layer_range": [0, 3]}],
             "parameters": {"weight": 0.5}},
            {"sources": [{"model": "../models/c", "layer_range": [1, 2]},
                         {"model": "../models/a", "layer_range": [2, 3], "parameters": {"weight": [
                             {"filter": "mlp", "value": 3.0}, {"value": [0.0, 2.0]}]}}]}],
        "merge_method": "linear", "parameters": {"weight": 1.0, "normalize": True}, "dtype": "float32"}

    # 3. task_arithmetic over slices: the base read from each slice's sources at their layers
    cases["slice_task_arithmetic"] = {
        "slices": [
            {"sources": [{"model": "../models/base", "layer_range": [0, 2]},
                         {"model": "../models/a", "layer_range": [1, 3], "parameters": {"weight": [0.2, 0.8]}},
                         {"model": "../models/b", "layer_range": [0, 2]}],
             "parameters": {"weight": 0.7}},
            {"sources": [{"model": "../models/base", "layer_range": [2, 3]},
                         {"model": "../models/a", "layer_range": [0, 1]}],
             "parameters": {"lambda": 0.5}}],
        "merge_method": "task_arithmetic", "base_model": "../models/base", "parameters": {"weight": 0.3},
        "dtype": "float32"}

    # 4. modules: {default: {models}}: module parameters between the models' and the global ones; the
    #    unlisted base appended as a source
    cases["modules_models"] = {
        "modules": {"default": {"models": [{"model": "../models/a", "parameters": {"weight": 1.0}},
                                           {"model": "../models/b"}],
                                "parameters": {"weight": 0.5}}},
        "merge_method": "linear", "base_model": "../models/base", "parameters": {"weight": 2.0},
        "dtype": "float32"}

    # 5. union tokenizer, no base: a (first) and d
    cases["tokenizer_union"] = {
        "models": [{"model": "../models/a", "parameters": {"weight": 1.0}},
                   {"model": "../models/d", "parameters": {"weight": 3.0}}],
        "merge_method": "linear", "tokenizer_source": "union", "chat_template": "chatml", "dtype": "float32"}

    # 6. tokenizer block: per-token sources, force, zero, model_token, padding; task arithmetic
    cases["tokenizer_tokens"] = {
        "models": [{"model": "../models/d", "parameters": {"weight": 0.5}},
                   {"model": "../models/e", "parameters": {"weight": 1.0}}],
        "merge_method": "task_arithmetic", "base_model": "../models/base",
        "tokenizer": {"source": "union", "pad_to_multiple_of": 4, "tokens": {
            "y": {"source": "../models/d", "force": True},
            "<new>": {"source": {"kind": "zero"}},
            "z": {"source": {"kind": "model_token", "model": "../models/e", "token": "q"}}}},
        "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
        "dtype": "float32"}

    # 7. tokenizer_source: a model (d's vocabulary), slerp
    cases["tokenizer_model_source"] = {
        "models": [{"model": "../models/base"}, {"model": "../models/d"}],
        "merge_method": "linear", "parameters": {"weight": 0.5}, "tokenizer_source": "../models/d", "dtype": "float32"}

    # 8. tokenizer_source: base: the base's vocabulary; a token an input lacks (z) takes the base's row
    cases["tokenizer_base"] = {
        "models": [{"model": "../models/d", "parameters": {"weight": 0.5}},
                   {"model": "../models/e", "parameters": {"weight": 1.0}}],
        "merge_method": "task_arithmetic", "base_model": "../models/base", "tokenizer_source": "base", "dtype": "float32"}

    # 9. slices with a union tokenizer: the embeddings from the first slice's sources (d), lm_head from the last's (e);
    #    a token none of a tensor's models has gets a zero row
    cases["slices_tokenizer"] = {
        "slices": [{"sources": [{"model": "../models/d", "layer_range": [0, 2]}]},
                   {"sources": [{"model": "../models/e", "layer_range": [1, 3]}]}],
        "merge_method": "linear", "parameters": {"weight": 1.0}, "tokenizer_source": "union", "dtype": "float32"}

    for name, cfg in cases.items():
        with open(os.path.join(ROOT, "configs", name + ".yml"), "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)

    def slice_merge_fn(method, global_params, base=None):
        def fn(out_name, srcs, sl, t, module_params):
            tensors = [M[model_of(m)][n] for m, n, _ in srcs]
            if method == "linear":
                ws = []
                for m, n, p in srcs:
                    own = None
                    for m2, _, p2 in srcs:  # the first source of this model that sets it
                        if m2 == m and p2 and "weight" in p2:
                            own = evaluate(p2["weight"], n, t)
                            if own is not None:
                                break
                    ws.append(own if own is not None else param("weight", n, t, [sl.get("parameters"), module_params, global_params]))
                normalize = param("normalize", out_name, t, [sl.get("parameters"), module_params, global_params], True)
                return linear(tensors, ws, normalize)
            # task_arithmetic: base among the sources
            bi = [model_of(m) for m, _, _ in srcs].index(base)
            b = tensors[bi]
            lam = param("lambda", out_name, t, [sl.get("parameters"), module_params, global_params], 1.0)
            acc = torch.zeros_like(b)
            for i, (m, n, p) in enumerate(srcs):
                if i == bi:
                    continue
                w = param("weight", n, t, [p, sl.get("parameters"), module_params, global_params])
                acc = acc + w * (tensors[i] - b)
            return b + lam * acc
        return fn

    expected = {}
    out, k = plan_slices(cases["frankenmerge"], M, slice_merge_fn("linear", {"weight": 1.0}))
    expected["frankenmerge"] = (out, {"num_hidden_layers": k})
    out, k = plan_slices(cases["slice_linear_gradient"], M, slice_merge_fn("linear", cases["slice_linear_gradient"]["parameters"]))
    expected["slice_linear_gradient"] = (out, {"num_hidden_layers": k})
    out, k = plan_slices(cases["slice_task_arithmetic"], M, slice_merge_fn("task_arithmetic", {"weight": 0.3}, base="base"))
    expected["slice_task_arithmetic"] = (out, {"num_hidden_layers": k})
    mm = cases["modules_models"]["modules"]["default"]
    as_slices = {"slices": [{"sources": [{"model": e["model"], "layer_range": [0, 3], "parameters": e.get("parameters")}
                                         for e in mm["models"]] + [{"model": "../models/base", "layer_range": [0, 3]}]}]}
    out, k = plan_slices(as_slices, M, slice_merge_fn("linear", {"weight": 2.0}), module_params=mm["parameters"])
    expected["modules_models"] = (out, {"num_hidden_layers": k})

    # ---------------------------------------------------------------- tokenizers
    def union(order, extra_tokens=()):
        base = order[0]
        vocab = dict(V[base])
        plain, added = [], {}
        added_names = {"d": {"<|im_end|>"}}
        for m in order:
            for tok, i in sorted(V[m].items(), key=lambda x: x[1]):
                if tok in added_names.get(m, set()):
                    if tok not in added:
                        added[tok] = True
                    continue
                if tok not in plain:
                    plain.append(tok)
        nxt = max(vocab.values()) + 1
        for tok in plain:
            if tok not in added and tok not in vocab:
                vocab[tok] = nxt
                nxt += 1
        for tok in list(added) + list(extra_tokens):
            if tok not in vocab:
                vocab[tok] = nxt
                nxt += 1
        return vocab

    def permuted(vocab, rows, models, base, tensor, tokens_cfg):
        n = max(vocab.values()) + 1
        P = {m: {i: (V[m][tok] if tok in V[m] else -1) for tok, i in vocab.items()} for m in models}
        default = {}
        for tok, i in vocab.items():
            c = tokens_cfg.get(tok)
            if c is not None:
                src = c["source"]
                if isinstance(src, str):
                    mm_ = model_of(src)
                    default[i] = M[mm_][tensor][P[mm_][i]]
                elif src["kind"] == "zero":
                    default[i] = torch.zeros(H)
                else:
                    mm_ = model_of(src["model"])
                    default[i] = M[mm_][tensor][V[mm_][src["token"]]]
                continue
            have = [m for m in models if P[m][i] >= 0]
            if len(have) == 1:
                default[i] = M[have[0]][tensor][P[have[0]][i]]
            elif len(have) == 0:
                default[i] = torch.zeros(H)
            elif base is not None and P[base][i] >= 0:
                default[i] = M[base][tensor][P[base][i]]
            else:
                s = torch.zeros(H)
                for m in have:
                    s = s + M[m][tensor][P[m][i]]
                default[i] = s / len(have)
        res = {}
        for m in models:
            o = torch.zeros(rows, H)
            for tok, i in vocab.items():
                force = tokens_cfg.get(tok, {}).get("force", False)
                o[i] = M[m][tensor][P[m][i]] if P[m][i] >= 0 and not force else default[i]
            if rows > n:
                o[n:] = o[:n].mean(0)
            res[m] = o
        return res

    def full_merge(models, fn, vocab, rows, base, tokens_cfg):
        out = {}
        for n in M["base"]:
            if n in ("model.embed_tokens.weight", "lm_head.weight"):
                ms = list(dict.fromkeys(models + ([base] if base else [])))
                p = permuted(vocab, rows, ms, base, n, tokens_cfg)
                out[n] = fn({m: p[m] for m in ms})
            else:
                out[n] = fn({m: M[m][n] for m in list(dict.fromkeys(models + ([base] if base else [])))})
        return out

    vocab5 = union(["a", "d"])
    out = full_merge(["a", "d"], lambda t: linear([t["a"], t["d"]], [1.0, 3.0]), vocab5, len(vocab5), None, {})
    expected["tokenizer_union"] = (out, {"num_hidden_layers": 3, "vocab_size": len(vocab5), "vocab": vocab5})

    tcfg = cases["tokenizer_tokens"]["tokenizer"]["tokens"]
    vocab6 = union(["base", "d", "e"], extra_tokens=list(tcfg))
    n6 = max(vocab6.values()) + 1
    rows6 = (n6 + 3) // 4 * 4
    out = full_merge(["d", "e"], lambda t: t["base"] + 1.0 * (0.5 * (t["d"] - t["base"]) + 1.0 * (t["e"] - t["base"])),
                     vocab6, rows6, "base", tcfg)
    expected["tokenizer_tokens"] = (out, {"num_hidden_layers": 3, "vocab_size": rows6, "vocab": vocab6})

    # tokenizer_source: d: d's whole vocabulary (not stripped); base is base (tokA); linear with the base listed
    vocab7 = dict(V["d"])
    out = full_merge(["base", "d"], lambda t: linear([t["base"], t["d"]], [0.5, 0.5]), vocab7, len(vocab7), None, {})
    expected["tokenizer_model_source"] = (out, {"num_hidden_layers": 3, "vocab_size": len(vocab7), "vocab": vocab7})

    vocab8 = dict(V["base"])
    out = full_merge(["d", "e"], lambda t: t["base"] + (0.5 * (t["d"] - t["base"]) + 1.0 * (t["e"] - t["base"])),
                     vocab8, len(vocab8), "base", {})
    expected["tokenizer_base"] = (out, {"num_hidden_layers": 3, "vocab_size": len(vocab8), "vocab": vocab8})

    vocab9 = union(["d", "e"])
    def slice_tok_fn(out_name, srcs, sl, t, module_params):
        ms = [model_of(m) for m, _, _ in srcs]
        if out_name in ("model.embed_tokens.weight", "lm_head.weight"):
            p = permuted(vocab9, len(vocab9), ms, None, out_name, {})
            return linear([p[m] for m in ms], [1.0] * len(ms))
        return linear([M[model_of(m)][n] for m, n, _ in srcs], [1.0] * len(srcs))
    out, k = plan_slices(cases["slices_tokenizer"], M, slice_tok_fn)
    expected["slices_tokenizer"] = (out, {"num_hidden_layers": k, "vocab_size": len(vocab9), "vocab": vocab9})

    for name, (tensors, meta) in expected.items():
        d = os.path.join(ROOT, "expected", name)
        os.makedirs(d, exist_ok=True)
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        json.dump(meta, open(os.path.join(d, "expected.json"), "w"), indent=2, sort_keys=True)
    print("wrote", ", ".join(expected))


if __name__ == "__main__":
    main()
