#!/usr/bin/python3
"""Independent check of item 11 (EOS in preference pairs) on the bundled demo model.

Tokenizes the first N demo preference pairs by TRL's current DPOTrainer rule (trl/trainer/dpo_trainer.py,
_prepare_dataset): plain strings get eos_token appended to chosen/rejected unless they already end with it;
conversational pairs are rendered with the chat template (prompt with add_generation_prompt=True, then
prompt + completion) and the completion is the tokens after the prompt, nothing appended. Scores them with
the demo model in PyTorch (scripts/demo/pretrain_base.py's Llama) and prints the mean summed log-probs,
TRL's logps/chosen and logps/rejected at step 0.

    /usr/bin/python3 scripts/golden/pref_eos_demo.py
writes src/test/resources/train/golden_pref_eos_demo.json (checked by TrainDpoEndToEndTest, which trains one
step with batch 8 on the same pairs) and /tmp/pref_eos_demo_{plain,conv}.jsonl for trying it by hand.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "demo"))
import torch  # noqa: E402

from check_learnable import load_base  # noqa: E402
from demo_tok import Tokenizer, render_chat  # noqa: E402
from pretrain_base import seq_logprobs  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MODEL = os.path.join(ROOT, "src/main/resources/dev/paft/demo/model")
DATA = os.path.join(ROOT, "src/test/resources/train/data/pref_train.jsonl")  # its head = the demo's
EOS = "</s>"


def pairs(n):
    with open(DATA) as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def plain_ids(tok, p):
    prompt = tok.encode(p["prompt"])
    out = []
    for key in ("chosen", "rejected"):
        c = p[key] if p[key].endswith(EOS) else p[key] + EOS
        full = tok.encode(p["prompt"] + c)
        out.append(full[len(prompt):])
    return prompt, out[0], out[1]


def conv_ids(tok, p):
    prompt_msgs = [{"role": "user", "content": p["prompt"]}]
    prompt = tok.encode(render_chat(prompt_msgs, add_generation_prompt=True))
    out = []
    for key in ("chosen", "rejected"):
        full = tok.encode(render_chat(prompt_msgs + [{"role": "assistant", "content": p[key]}]))
        assert full[:len(prompt)] == prompt
        out.append(full[len(prompt):])
    return prompt, out[0], out[1]


@torch.no_grad()
def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    tok = Tokenizer.load(os.path.join(MODEL, "tokenizer.json"))
    model = load_base(MODEL).eval()
    ps = pairs(n)
    golden = {"pairs": n, "source": "first pairs of src/test/resources/train/data/pref_train.jsonl"}
    for name, fn in (("plain", plain_ids), ("conv", conv_ids)):
        sums = {"chosen": [], "rejected": []}
        for p in ps:
            prompt, c, r = fn(tok, p)
            for key, comp in (("chosen", c), ("rejected", r)):
                lp = seq_logprobs(model, prompt + comp)
                sums[key].append(lp[len(prompt) - 1:].double().sum().item())
        golden[name] = {"logps/chosen": sum(sums["chosen"]) / n, "logps/rejected": sum(sums["rejected"]) / n,
                        "last_chosen_token": tok.inv[fn(tok, ps[0])[1][-1]]}
        print(f"{name}: logps/chosen={sum(sums['chosen']) / n:.6f} logps/rejected={sum(sums['rejected']) / n:.6f}"
              f" last chosen token={tok.inv[fn(tok, ps[0])[1][-1]]!r}")
    with open(os.path.join(ROOT, "src/test/resources/train/golden_pref_eos_demo.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    with open("/tmp/pref_eos_demo_plain.jsonl", "w") as f:
        for p in ps:
            f.write(json.dumps(p) + "\n")
    with open("/tmp/pref_eos_demo_conv.jsonl", "w") as f:
        for p in ps:
            f.write(json.dumps({"prompt": [{"role": "user", "content": p["prompt"]}],
                                "chosen": [{"role": "assistant", "content": p["chosen"]}],
                                "rejected": [{"role": "assistant", "content": p["rejected"]}]}) + "\n")


if __name__ == "__main__":
    main()
