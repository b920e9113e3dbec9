"""Word-level tokenizer shared by the demo scripts.

Mirrors, exactly, the Hugging Face `tokenizers` pipeline written to tokenizer.json:
  added special tokens (matched first, verbatim, never normalized)
  -> normalizer Lowercase
  -> pre_tokenizer Whitespace (regex \\w+|[^\\w\\s]+)
  -> model WordLevel (unknown word -> <unk>)
  -> post_processor TemplateProcessing "<s> $A" (when add_special_tokens)
  decoder: none, so decode joins the tokens with single spaces.
"""
import json
import re

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]
PAD, BOS, EOS, UNK = 0, 1, 2, 3
_WORD = re.compile(r"\w+|[^\w\s]+")
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")

CHAT_TEMPLATE = (
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n"
    "{{ '<|assistant|>' }}\n"
    "{% endif %}\n"
    "{% endfor %}"
)


def words(text):
    """Pre-tokenized words of a plain (special-free) text."""
    return _WORD.findall(text.lower())


class Tokenizer:
    def __init__(self, vocab):
        self.vocab = vocab  # token -> id, including specials
        self.inv = {i: t for t, i in vocab.items()}

    @classmethod
    def from_words(cls, word_list):
        vocab = {s: i for i, s in enumerate(SPECIALS)}
        for w in sorted(set(word_list)):
            if w not in vocab:
                vocab[w] = len(vocab)
        return cls(vocab)

    @classmethod
    def load(cls, path):
        with open(path) as f:
            tj = json.load(f)
        vocab = dict(tj["model"]["vocab"])
        for a in tj["added_tokens"]:
            vocab[a["content"]] = a["id"]
        return cls(vocab)

    def encode(self, text, add_special_tokens=True):
        ids = [BOS] if add_special_tokens else []
        for piece in _SPECIAL_RE.split(text):
            if not piece:
                continue
            if piece in SPECIALS:
                ids.append(self.vocab[piece])
            else:
                ids.extend(self.vocab.get(w, UNK) for w in words(piece))
        return ids

    def decode(self, ids, skip_special_tokens=True):
        toks = [self.inv[i] for i in ids if not (skip_special_tokens and i < len(SPECIALS))]
        return " ".join(toks)

    def tokenizer_json(self):
        added = [
            {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, s in enumerate(SPECIALS)
        ]
        model_vocab = {t: i for t, i in self.vocab.items()}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": {"type": "Lowercase"},
            "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "<s>", "type_id": 1}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [BOS], "tokens": ["<s>"]}},
            },
            "decoder": None,
            "model": {"type": "WordLevel", "vocab": model_vocab, "unk_token": "<unk>"},
        }

    @staticmethod
    def tokenizer_config():
        return {
            "add_bos_token": True,
            "add_eos_token": False,
            "added_tokens_decoder": {
                str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": False, "special": True}
                for i, s in enumerate(SPECIALS)
            },
            "additional_special_tokens": ["<|user|>", "<|assistant|>", "<|system|>"],
            "bos_token": "<s>",
            "eos_token": "</s>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "clean_up_tokenization_spaces": False,
            "model_max_length": 256,
            "padding_side": "right",
            "tokenizer_class": "PreTrainedTokenizerFast",
            "chat_template": CHAT_TEMPLATE,
        }


def render_chat(messages, add_generation_prompt=False):
    """Text with the same tokens as CHAT_TEMPLATE's output (the tokenizer drops whitespace,
    so the template's newlines do not matter)."""
    tags = {"user": "<|user|>", "system": "<|system|>", "assistant": "<|assistant|>"}
    out = "".join(tags[m["role"]] + "\n" + m["content"] + "</s>\n" for m in messages)
    if add_generation_prompt:
        out += "<|assistant|>\n"
    return out
