#!/usr/bin/env python3
"""Checks that YAML files (paft's merge_config.yaml) are accepted by mergekit's own config parser.

    python3 scripts/golden/check_mergekit_config.py MERGEKIT_CHECKOUT FILE.yaml...

Needs pydantic 2 and PyYAML (the pyenv python3 here has both), and a mergekit source checkout
(a work tree, or a bare clone: files are read with `git show HEAD:...` when there is no work tree).
It loads mergekit's real mergekit/config.py and mergekit/tokenizer/config.py, and from
mergekit/common.py the classes ModelPath and ModelReference (MODEL+LORA parsing) and the function
dtype_from_name, without the heavy imports of that module (torch, transformers, peft: only the
names of four torch dtypes are needed). Each file is validated as mergekit-yaml does
(MergeConfiguration.model_validate(yaml.safe_load(...))), its dtype and out_dtype go through
dtype_from_name, and the parsed models are printed.
"""
import ast
import os
import subprocess
import sys
import types

import yaml


def source(checkout, rel):
    path = os.path.join(checkout, rel)
    if os.path.isfile(path):
        with open(path) as f:
            return f.read()
    return subprocess.check_output(["git", "-C", checkout, "show", "HEAD:" + rel], text=True)


def module(name, code=None, ns=None):
    m = types.ModuleType(name)
    if ns:
        m.__dict__.update(ns)
    sys.modules[name] = m
    if code is not None:
        exec(compile(code, name, "exec"), m.__dict__)
    return m


def main():
    checkout, files = sys.argv[1], sys.argv[2:]
    common_src = source(checkout, "mergekit/common.py")
    tree = ast.parse(common_src)
    keep = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))
            and n.name in ("ModelPath", "ModelReference", "dtype_from_name")]
    header = ("import binascii, logging, os, os.path\n"
              "from typing import Any, Optional, Union\n"
              "from pydantic import BaseModel, model_serializer, model_validator\n")
    fake_torch = types.SimpleNamespace(bfloat16="bfloat16", float16="float16", float32="float32", int64="int64", dtype=object)
    module("mergekit", ns={"__path__": []})
    common = module("mergekit.common", header + "\n".join(ast.get_source_segment(common_src, n) for n in keep),
                    ns={"torch": fake_torch, "PretrainedConfig": object, "ShardedTensorIndex": object,
                        "LazyTensorLoader": object})
    module("mergekit.tokenizer", ns={"__path__": []})
    module("mergekit.tokenizer.config", source(checkout, "mergekit/tokenizer/config.py"))
    config = module("mergekit.config", source(checkout, "mergekit/config.py"))
    for f in files:
        with open(f) as fh:
            data = yaml.safe_load(fh)
        cfg = config.MergeConfiguration.model_validate(data)
        common.dtype_from_name(cfg.dtype)
        common.dtype_from_name(cfg.out_dtype)
        models = [str(m.model) + (" (LoRA " + str(m.model.lora) + ")" if m.model.lora else "") for m in cfg.models or []]
        print(f"OK {f}: {cfg.merge_method}, base {cfg.base_model}, dtype {cfg.dtype}, out_dtype {cfg.out_dtype}, "
              f"parameters {cfg.parameters}, models {models}")


if __name__ == "__main__":
    main()
