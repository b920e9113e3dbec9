#!/usr/bin/python3
"""Golden values for dev.paft.io.WeightStorage and LlamaModel's 2-byte weight storage (model.dtype).

Run with Debian's PyTorch:   /usr/bin/python3 scripts/golden/make_weight_storage_golden.py
Writes src/test/resources/model/storage_golden.json:
  bf16_to_f16_crc32: CRC-32 of the 65536 float16 bit patterns (uint16 little-endian) torch gives for every
      bfloat16 bit pattern converted to float16 (x.view(bfloat16).half(): via float, round to nearest even).
  f16_to_bf16_f16_crc32: the same for every float16 pattern rounded to bfloat16 and back to float16; NaN
      results are written as sign | 0x7e00 (torch 1.13's float -> bfloat16 turns every NaN into 0xffff, a
      negative NaN; paft keeps the NaN's sign, as torch's float -> float16 does).
  models: per fixture directory and storage (f32, f16, bf16), the CRC-32 of each projection / embedding tensor
      as torch rounds it: f32 = w.float(), f16 = w.float().half(), bf16 = w.float().bfloat16().half().
"""
import json
import os
import sys
import zlib

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import safetensors_io as st  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "src", "test", "resources", "model")


def read_safetensors(path):
    return st.read(path, dtypes=("F32", "F16", "BF16"))

def crc(t):
    return zlib.crc32(t.contiguous().numpy().tobytes())


def crc16(t):
    return zlib.crc32(t.contiguous().view(torch.int16).numpy().astype("<i2").tobytes())


def keep_nan_sign(pats, halves):
    out = halves.view(torch.int16).clone()
    nan = torch.isnan(pats.view(torch.float16))
    canonical = ((pats.to(torch.int32) & 0x8000) | 0x7E00).to(torch.int16)
    out[nan] = canonical[nan]
    return out.view(torch.float16)


def main():
    pats = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    golden = {
        "bf16_to_f16_crc32": crc16(pats.view(torch.bfloat16).half()),
        "f16_to_bf16_f16_crc32": crc16(keep_nan_sign(pats, pats.view(torch.float16).float().bfloat16().half())),
        "models": {},
    }
    for fixture in ["llama", "qwen2-f16", "llama-tied-bf16"]:
        tensors = read_safetensors(os.path.join(ROOT, fixture, "model.safetensors"))
        per = {"f32": {}, "f16": {}, "bf16": {}}
        for name, w in sorted(tensors.items()):
            if name.endswith("norm.weight") or name.endswith(".bias") or "rotary" in name:
                continue
            per["f32"][name] = crc(w.float())
            per["f16"][name] = crc16(w.float().half())
            per["bf16"][name] = crc16(w.float().bfloat16().half())
        golden["models"][fixture] = per
    with open(os.path.join(ROOT, "storage_golden.json"), "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.join(ROOT, "storage_golden.json"))


if __name__ == "__main__":
    main()
