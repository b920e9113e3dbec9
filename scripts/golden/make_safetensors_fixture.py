#!/usr/bin/python3
"""Golden fixtures for paft's io tests, written by an implementation independent of paft.

Run with Debian's PyTorch (``/usr/bin/python3``, python3-torch 1.13 + numpy); there is no
``safetensors`` package here, so the file format is written as the spec says by the scripts' own
writer (scripts/lib/safetensors_io.py, which shares no code with paft): u64 little-endian header
length, JSON header (padded with spaces to 8 bytes), raw little-endian data. Tensors are laid out
like the reference writer: sorted by dtype alignment (largest first), then by name.

Outputs (under src/test/resources/io/):
  python_fixture.safetensors     every dtype, a scalar, an empty tensor, __metadata__
  python_fixture_unpadded.safetensors  same tensors, header NOT padded (older writers)
  python_fixture.expected.json   per tensor: dtype, shape, and the values a reader must return
                                 (floats as the float32 bit patterns of the widened values)
  conversion_sweep.safetensors   input float32 bits (I32) and torch's float16 / bfloat16 bits
                                 (I16) for ~40k inputs: every float16 rounding tie, ties +-1 ulp,
                                 subnormals, overflow, specials and random bit patterns
  peft_adapter_config.json       PEFT's adapter_config.json text for a known LoraConfig,
                                 formatted as PEFT's save_pretrained does
                                 (json.dumps(indent=2, sort_keys=True), no trailing newline)

    /usr/bin/python3 scripts/golden/make_safetensors_fixture.py
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import safetensors_io as st  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "test", "resources", "io")

DTYPE_NAME = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def write_safetensors(path, tensors, metadata=None, pad=True):
    """Widest dtype first, then by name (the order a file need not keep: the reader must not assume it)."""
    order = dict(sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0])))
    st.write(path, order, metadata=metadata, pad=pad)


def f32_bits(t):
    return t.to(torch.float32).contiguous().view(torch.int32).tolist()


def fixture():
    g = torch.Generator().manual_seed(1234)
    special = [0.0, -0.0, 1.0, -2.5, float("inf"), float("-inf"), 65504.0, 6.103515625e-05, 5.960464477539063e-08]
    tensors = {
        "f64": torch.tensor([[1.0, -1.0 / 3.0, 1e300], [2.0 ** -1074, float("inf"), -0.0]], dtype=torch.float64),
        "f32": torch.cat([torch.tensor(special, dtype=torch.float32), torch.randn(3, generator=g)]).reshape(3, 4),
        "f16": torch.tensor(special + [0.1, -3.140625, 1000.5], dtype=torch.float16).reshape(2, 2, 3),
        "bf16": torch.tensor(special[:6] + [1e30, -1e-30, 3.140625, 0.1, 1e-40, 7.0], dtype=torch.float32)
        .to(torch.bfloat16).reshape(4, 3),
        "i64": torch.tensor([0, 1, -1, 2 ** 40, -(2 ** 40), 2 ** 24 + 1], dtype=torch.int64),
        "i32": torch.tensor([[0, 2147483647], [-2147483648, 12345]], dtype=torch.int32),
        "i16": torch.tensor([0, 32767, -32768, -7], dtype=torch.int16),
        "i8": torch.tensor([0, 127, -128, -1, 5], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 128, 7], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
        "model.layers.0.self_attn.q_proj.weight": torch.randn(4, 8, generator=g),
    }
    meta = {"format": "pt", "writer": "scripts/golden/make_safetensors_fixture.py"}
    write_safetensors(os.path.join(OUT, "python_fixture.safetensors"), tensors, meta)
    write_safetensors(os.path.join(OUT, "python_fixture_unpadded.safetensors"), tensors, meta, pad=False)
    expected = {"__metadata__": meta}
    for name, t in tensors.items():
        e = {"dtype": DTYPE_NAME[t.dtype], "shape": list(t.shape)}
        if t.dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
            e["f32_bits"] = f32_bits(t.flatten())
        else:
            e["values"] = t.flatten().to(torch.int64).tolist()
        expected[name] = e
    with open(os.path.join(OUT, "python_fixture.expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def sweep():
    halves = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float32)  # every finite positive half
    nxt = np.append(halves[1:], np.float32(65536.0))
    mids = ((halves.astype(np.float64) + nxt) / 2).astype(np.float32)  # exact: ties of float16 rounding
    mid_bits = mids.view(np.uint32).astype(np.int64)
    parts = [mid_bits[::2], mid_bits[1::6] - 1, mid_bits[1::6] + 1, halves.view(np.uint32)[::9].astype(np.int64)]
    # float32 subnormals and tiny values below float16's subnormal range
    parts.append(np.arange(0, 0x33800000, 0x33800000 // 512, dtype=np.int64))
    # overflow region around 65504 .. 65536
    parts.append(np.arange(0x477FE000 - 64, 0x47800000 + 64, 17, dtype=np.int64))
    # specials
    parts.append(np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7F7FFFFF, 0x00000001, 0x3F800000,
                           0x477FF000, 0x477FEFFF, 0x33000000, 0x33000001, 0x337FFFFF, 0x38800000, 0x387FFFFF,
                           0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001], dtype=np.int64))
    rng = np.random.default_rng(7)
    parts.append(rng.integers(0, 2 ** 32, 6000, dtype=np.int64))
    bits = np.concatenate(parts).astype(np.uint32)
    # negatives of a subset, then drop NaN inputs (NaN payloads are compared by NaN-ness only)
    bits = np.concatenate([bits, bits[::5] | np.uint32(0x80000000)])
    bits = bits[(bits & 0x7FFFFFFF) <= 0x7F800000]
    x = torch.from_numpy(bits.view(np.float32).copy())
    tensors = {
        "input_bits": torch.from_numpy(bits.view(np.int32).copy()),
        "f16_bits": x.to(torch.float16).view(torch.int16),
        "bf16_bits": x.to(torch.bfloat16).view(torch.int16),
    }
    write_safetensors(os.path.join(OUT, "conversion_sweep.safetensors"), tensors,
                      {"torch": torch.__version__, "numpy": np.__version__})
    print("sweep:", len(bits), "values")


def peft_config():
    # The key set of PEFT 0.10-0.12 LoraConfig.to_dict() for a plain LoRA adapter.
    cfg = {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "models/tiny-llama",
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "layer_replication": None, "layers_pattern": None, "layers_to_transform": None, "loftq_config": {},
        "lora_alpha": 16, "lora_dropout": 0.05, "megatron_config": None, "megatron_core": "megatron.core",
        "modules_to_save": None, "peft_type": "LORA", "r": 8, "rank_pattern": {}, "revision": None,
        "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False,
    }
    with open(os.path.join(OUT, "peft_adapter_config.json"), "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    fixture()
    sweep()
    peft_config()
