#!/usr/bin/env bash
# Slow input attacks of issue 19 (items 10, 11, 12, 16) run against the real CLI (scripts/paft), each with a
# wall-clock limit; the fast ones are in src/test/java/dev/paft/attack/. Prints one line per case
# (held / FAILED, exit code, seconds) and exits 1 if any case failed.
#   scripts/attack/run-slow-inputs.sh [WORKDIR]      (default: a fresh temporary directory)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/env.sh"
root="$PAFT_ROOT"
paft="$root/scripts/paft"
paft_jar >/dev/null    # build before the first timed case (scripts/paft would, inside its time limit)
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
demo="$root/src/main/resources/dev/paft/demo"
failed=0

# case NAME EXPECTED_EXIT MAX_SECONDS EXPECTED_STDERR_TEXT -- ARGS...
case_() {
  local name="$1" want="$2" limit="$3" text="$4"; shift 5
  local t0 t1 code
  t0=$(date +%s.%N)
  timeout "$((limit + 30))" "$paft" "$@" >"$work/$name.out" 2>"$work/$name.err"; code=$?
  t1=$(date +%s.%N)
  local secs; secs=$(echo "$t1 - $t0" | bc)
  local verdict=held
  if [ "$code" != "$want" ] || ! cat "$work/$name.out" "$work/$name.err" | grep -qF -- "$text" || [ "$(echo "$secs > $limit" | bc)" = 1 ]; then
    verdict=FAILED; failed=1
  fi
  printf '%-7s %-34s exit %-3s %6.1f s (limit %s s)  %s\n' "$verdict" "$name" "$code" "$secs" "$limit" \
    "$(grep -v WARN "$work/$name.err" | tail -1 | cut -c1-150)"
}

python3 - "$work" "$root" <<'PY'
import json, os, random, shutil, sys
work, root = sys.argv[1], sys.argv[2]
demo = os.path.join(root, "src/main/resources/dev/paft/demo/model")
def variant(name, **kv):
    d = os.path.join(work, name)
    shutil.copytree(demo, d, dirs_exist_ok=True)
    c = json.load(open(os.path.join(d, "config.json")))
    c.update(kv)
    json.dump(c, open(os.path.join(d, "config.json"), "w"))
    return d
variant("layers1e9", num_hidden_layers=1000000000)
for name, tmpl in {
    "nested-loops": "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
    "string-doubling": "{% set s = 'ab' %}{% for i in range(60) %}{% set s = s ~ s %}{% endfor %}{{ s }}",
    "include": "{% include 'dev/paft/demo/paft-demo.yaml' %}",
    "syntax": "{{ messages[0]['content'] ",
}.items():
    d = variant("tmpl-" + name)
    tc = json.load(open(os.path.join(d, "tokenizer_config.json")))
    tc["chat_template"] = tmpl
    json.dump(tc, open(os.path.join(d, "tokenizer_config.json"), "w"))
# a tiny random Llama with the Llama-2 tokenizer (BPE, vocab 32000): whole-string tokenization is slow on it
import numpy as np
d = os.path.join(work, "tiny-llama2"); os.makedirs(d, exist_ok=True)
h, L, heads, kv, mlp, vocab = 32, 2, 4, 2, 64, 32000
rng = np.random.default_rng(0)
t = {"model.embed_tokens.weight": rng.uniform(-.5, .5, (vocab, h))}
for i in range(L):
    p = f"model.layers.{i}."
    for n, shape in [("self_attn.q_proj", (h, h)), ("self_attn.k_proj", (kv * h // heads, h)), ("self_attn.v_proj", (kv * h // heads, h)),
                     ("self_attn.o_proj", (h, h)), ("mlp.gate_proj", (mlp, h)), ("mlp.up_proj", (mlp, h)), ("mlp.down_proj", (h, mlp))]:
        t[p + n + ".weight"] = rng.uniform(-.2, .2, shape)
    t[p + "input_layernorm.weight"] = np.ones(h); t[p + "post_attention_layernorm.weight"] = np.ones(h)
t["model.norm.weight"] = np.ones(h)
sys.path.insert(0, os.path.join(root, "scripts/lib")); import safetensors_io as st
st.write(os.path.join(d, "model.safetensors"), t, default="F32")
json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab, "hidden_size": h, "intermediate_size": mlp,
           "num_hidden_layers": L, "num_attention_heads": heads, "num_key_value_heads": kv, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": True, "max_position_embeddings": 2048, "bos_token_id": 1, "eos_token_id": 2}, open(os.path.join(d, "config.json"), "w"))
for f in ["tokenizer.json", "tokenizer_config.json"]:
    shutil.copy(os.path.join(root, "src/test/resources/tokenizers/llama2", f), os.path.join(d, f))
random.seed(0)
words = "the quick brown fox jumps over a lazy dog and then runs far away".split()
big = " ".join(random.choice(words) for _ in range(2_000_000))[:10 * 1024 * 1024]
with open(os.path.join(work, "big-text.jsonl"), "w") as f:
    f.write(json.dumps({"text": "the answer is cheese ."}) + "\n" + json.dumps({"text": big}) + "\n")
with open(os.path.join(work, "big-pc.jsonl"), "w") as f:
    f.write(json.dumps({"prompt": "what does adam like ?", "completion": big}) + "\n")
with open(os.path.join(work, "big-msg.jsonl"), "w") as f:
    f.write(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "the answer is cheese ."}]}) + "\n")
    f.write(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": big}]}) + "\n")
PY

sft="$demo/data/sft_test.jsonl"
# item 10: ran 13 min to an OutOfMemoryError
case_ layers1e9-eval 3 20 "num_hidden_layers = 1000000000 but the safetensors hold 4 layers" -- eval --model "$work/layers1e9" --ppl "$sft"
# item 11 / 13: hung, OOM after 30 s, read a classpath resource, 17-line stack trace
case_ template-nested-loops 3 30 "loop budget exceeded" -- eval --model "$work/tmpl-nested-loops" --ppl "$sft"
case_ template-string-doubling 3 30 "tokenizer_config.json chat_template" -- eval --model "$work/tmpl-string-doubling" --ppl "$sft"
case_ template-include 3 30 "may not include, import or extend" -- eval --model "$work/tmpl-include" --ppl "$sft"
case_ template-syntax 3 30 "chat template syntax error" -- eval --model "$work/tmpl-syntax" --ppl "$sft"
# item 12: 10 MB records with the Llama-2 tokenizer, 67 s before (dry runs measured on 2 cores: text 25 s,
# prompt/completion 56 s, messages 81 s)
tiny="$work/tiny-llama2"
case_ big-text 0 20 "truncated 1" -- train-sft --model "$tiny" --train "$work/big-text.jsonl" -o "$work/o1" --dry-run
case_ big-prompt-completion 0 20 "perplexity" -- eval --model "$tiny" --ppl "$work/big-pc.jsonl"
case_ big-messages 0 20 "dropped 1" -- train-sft --model "$tiny" --train "$work/big-msg.jsonl" -o "$work/o2" --dry-run
exit $failed
