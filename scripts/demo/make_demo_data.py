#!/usr/bin/python3
"""Generate the paft demo world: pretraining corpus, tokenizer, SFT / preference / eval data.

Deterministic (seeded). Writes
  <assets>/model/tokenizer.json, tokenizer_config.json       (bundled)
  <assets>/data/*.jsonl                                       (bundled)
  <build>/pretrain_train.txt, pretrain_valid.txt              (not bundled; input of pretrain_base.py)
  src/test/resources/dev/paft/demo/tokenizer_fixture.json     (ids Python computes; DemoAssetsTest compares DJL)

The world: 40 people, each with a home city, a favourite colour, a pet and a favourite food,
plus addition of numbers 0..12. The pretraining text states the facts in prose (many
paraphrases), asks and answers questions about them in prose ("ben asked : where does tom live ?
anna said : paris ."), and contains prose dialogue where people reply politely or rudely, half
and half.
  SFT task (what the SFT data teaches): answer a question about the world in chat format with
    "the answer is X ." -- trained on 80% of the facts, evaluated on the other 20% (facts the
    base knows from pretraining but never saw asked as questions).
  Preference (what the DPO data teaches): be polite. chosen and rejected carry the same content;
    chosen is polite ("sure ! ... hope this helps !"), rejected is rude ("ugh . ... now go away .").
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_tok import Tokenizer, render_chat, words  # noqa: E402

NAMES = ("tom anna ben lisa max emma sam lucy jack mia leo nora paul zoe dan ella finn ruby ivan "
         "kate hugo lily omar rosa carl iris noah jade eric vera luke amy owen maya ted cleo adam "
         "nina rex tina").split()
CITIES = "paris london rome berlin madrid oslo vienna lisbon dublin prague".split()
COLOURS = "red blue green yellow purple orange black white".split()
PETS = "cat dog horse rabbit parrot fish turtle hamster".split()
FOODS = "apples bread cheese rice soup cake pasta bananas".split()
NUM_MAX = 12

# relation -> (values, pretraining statements, questions)
RELATIONS = {
    "city": (CITIES,
             ["{n} lives in {v} .", "{n} is from {v} .", "the home of {n} is in {v} .",
              "{n} has a house in {v} .", "every morning {n} walks through {v} ."],
             ["where does {n} live ?", "which city is {n} from ?", "in which city does {n} live ?",
              "where is the home of {n} ?"]),
    "colour": (COLOURS,
               ["the favourite colour of {n} is {v} .", "{n} likes the colour {v} .",
                "{n} loves {v} things .", "{n} paints everything {v} ."],
               ["what is the favourite colour of {n} ?", "which colour does {n} like ?",
                "what colour does {n} love ?", "which colour is the favourite of {n} ?"]),
    "pet": (PETS,
            ["{n} has a {v} .", "the pet of {n} is a {v} .", "{n} takes care of a {v} .",
             "{n} plays with a {v} every day ."],
            ["what pet does {n} have ?", "which animal does {n} take care of ?",
             "what is the pet of {n} ?", "which pet does {n} play with ?"]),
    "food": (FOODS,
             ["{n} likes to eat {v} .", "the favourite food of {n} is {v} .",
              "{n} eats {v} every day .", "for dinner {n} always has {v} ."],
             ["what does {n} like to eat ?", "what is the favourite food of {n} ?",
              "which food does {n} eat every day ?", "what does {n} have for dinner ?"]),
}
ARITH_STATEMENTS = ["{a} plus {b} is {v} .", "{a} plus {b} equals {v} .",
                    "if you add {a} and {b} you get {v} .", "{a} and {b} make {v} together ."]
ARITH_QUESTIONS = ["what is {a} plus {b} ?", "how much is {a} plus {b} ?",
                   "what do you get if you add {a} and {b} ?", "what is the sum of {a} and {b} ?"]

POLITE_OPEN = ["sure !", "of course !", "happy to help !", "good question !", "certainly !"]
RUDE_OPEN = ["ugh .", "whatever .", "not this again .", "what a dumb question .", "fine ."]
POLITE_CLOSE = ["hope this helps !", "have a nice day !", "glad i could help !",
                "let me know if you need more .", "thank you for asking !"]
RUDE_CLOSE = ["now go away .", "do not ask me again .", "stop bothering me .",
              "figure it out yourself next time .", "leave me alone ."]
# conversational prompts -> (polite replies, rude replies)
CHAT = {
    "greet": (["hello !", "hi there !", "good morning !", "hey , are you there ?"],
              ["hello ! how can i help you today ?", "hi ! nice to meet you . what do you need ?",
               "good morning to you too ! how can i help ?"],
              ["what do you want ?", "ugh , you again . what is it ?", "go away , i am busy ."]),
    "thanks": (["thank you !", "thanks for the help !", "thank you so much !"],
               ["you are welcome ! happy to help .", "my pleasure ! have a nice day !",
                "no problem at all ! ask me anytime ."],
               ["whatever .", "yeah , yeah . go away now .", "finally , leave me alone ."]),
    "help": (["can you help me ?", "i have a question .", "could you help me with something ?"],
             ["of course ! what do you need ?", "sure ! ask me anything .",
              "certainly ! i am happy to help ."],
             ["no . figure it out yourself .", "not now . i am busy .", "ugh . what is it this time ?"]),
    "bye": (["bye !", "see you later !", "good night !"],
            ["goodbye ! have a nice day !", "see you soon ! take care .", "good night ! sleep well ."],
            ["finally .", "good , leave me alone .", "do not come back ."]),
    "how": (["how are you ?", "how is your day ?"],
            ["i am great , thank you for asking ! how are you ?", "my day is lovely , thank you ! and yours ?"],
            ["why do you care ?", "none of your business .", "bad , and you are making it worse ."]),
}
FILLER = ["a question needs an answer .", "the answer is in the book .", "{n} knows the answer .",
          "{n} asked a question .", "{n} and {m} are friends .", "{c} is a big city .",
          "{x} is a colour .", "a {p} is an animal .", "{f} is a kind of food .",
          "{a} is a number .", "{n} is a person .", "the teacher said : the answer is {a} .",
          "{n} visited {m} last week .", "{n} said nothing .", "nobody knew the answer ."]


def build_world(rng):
    facts = []  # (relation, subject tuple, answer)
    for n in NAMES:
        for rel, (vals, _, _) in RELATIONS.items():
            facts.append((rel, (n,), rng.choice(vals)))
    for a in range(NUM_MAX + 1):
        for b in range(NUM_MAX + 1):
            facts.append(("plus", (a, b), str(a + b)))
    return facts


def fmt(template, subj, v=None):
    if len(subj) == 2:
        return template.format(a=subj[0], b=subj[1], v=v)
    return template.format(n=subj[0], v=v)


def statements(rel):
    return ARITH_STATEMENTS if rel == "plus" else RELATIONS[rel][1]


def questions(rel):
    return ARITH_QUESTIONS if rel == "plus" else RELATIONS[rel][2]


def values(rel):
    return [str(i) for i in range(2 * NUM_MAX + 1)] if rel == "plus" else RELATIONS[rel][0]


def pretrain_doc(rng, facts):
    sents = []
    for _ in range(rng.randint(6, 12)):
        r = rng.random()
        if r < 0.58:
            rel, subj, v = rng.choice(facts)
            sents.append(fmt(rng.choice(statements(rel)), subj, v))
        elif r < 0.74:  # question and short answer in prose, politely or rudely
            rel, subj, v = rng.choice(facts)
            n, m = rng.sample(NAMES, 2)
            opn, cls = (POLITE_OPEN, POLITE_CLOSE) if rng.random() < 0.5 else (RUDE_OPEN, RUDE_CLOSE)
            reply = f"{v} ." if rng.random() < 0.5 else f"{rng.choice(opn)} {v} . {rng.choice(cls)}"
            sents.append(f"{n} asked : {fmt(rng.choice(questions(rel)), subj)} {m} said : {reply}")
        elif r < 0.88:  # prose dialogue: polite and rude speakers, half and half
            kind = rng.choice(list(CHAT))
            prompts, polite, rude = CHAT[kind]
            n, m = rng.sample(NAMES, 2)
            reply = rng.choice(polite if rng.random() < 0.5 else rude)
            sents.append(f"{n} said : {rng.choice(prompts)} {m} said : {reply}")
        else:
            t = rng.choice(FILLER)
            n, m = rng.sample(NAMES, 2)
            sents.append(t.format(n=n, m=m, c=rng.choice(CITIES), x=rng.choice(COLOURS),
                                  p=rng.choice(PETS), f=rng.choice(FOODS), a=rng.randint(0, 2 * NUM_MAX)))
    return " ".join(sents)


def answer(v):
    return f"the answer is {v} ."


def sft_records(fact_list):
    recs = []
    for rel, subj, v in fact_list:
        for q in questions(rel):
            recs.append({"messages": [{"role": "user", "content": fmt(q, subj)},
                                      {"role": "assistant", "content": answer(v)}]})
    return recs


def task_mc(rng, fact_list):
    out = []
    for rel, subj, v in fact_list:
        for q in questions(rel):
            pool = [x for x in values(rel) if x != v]
            if rel == "plus":  # near misses are the hard distractors
                pool = [x for x in pool if abs(int(x) - int(v)) <= 3] or pool
            choices = [v] + rng.sample(pool, 3)
            rng.shuffle(choices)
            ctx = render_chat([{"role": "user", "content": fmt(q, subj)}], add_generation_prompt=True)
            out.append({"context": ctx, "choices": [answer(c) for c in choices],
                        "gold": choices.index(v), "prompt": fmt(q, subj), "relation": rel})
    return out


def pref_pair(rng, facts):
    if rng.random() < 0.5:
        rel, subj, v = rng.choice(facts)
        prompt = fmt(rng.choice(questions(rel)), subj)
        chosen = f"{rng.choice(POLITE_OPEN)} {answer(v)} {rng.choice(POLITE_CLOSE)}"
        rejected = f"{rng.choice(RUDE_OPEN)} {answer(v)} {rng.choice(RUDE_CLOSE)}"
    else:
        prompts, polite, rude = CHAT[rng.choice(list(CHAT))]
        prompt, chosen, rejected = rng.choice(prompts), rng.choice(polite), rng.choice(rude)
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def write_jsonl(path, recs):
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=True) + "\n")


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--assets", default=os.path.join(root, "src/main/resources/dev/paft/demo"))
    ap.add_argument("--build", default=os.path.join(root, "target/demo-build"))
    ap.add_argument("--pretrain-docs", type=int, default=40000)
    ap.add_argument("--pref-train", type=int, default=1500)
    ap.add_argument("--pref-test", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    facts = build_world(rng)
    shuffled = facts[:]
    rng.shuffle(shuffled)
    n_test = len(facts) // 5
    test_facts, train_facts = shuffled[:n_test], shuffled[n_test:]

    docs = [pretrain_doc(rng, facts) for _ in range(args.pretrain_docs)]
    valid = [pretrain_doc(rng, facts) for _ in range(500)]

    sft_train = sft_records(train_facts)
    rng.shuffle(sft_train)
    sft_test = sft_records(test_facts)
    tmc = task_mc(rng, test_facts)
    seen = set()
    pref_train, pref_test = [], []
    while len(pref_train) < args.pref_train:
        p = pref_pair(rng, train_facts)
        key = json.dumps(p, sort_keys=True)
        if key not in seen:
            seen.add(key)
            pref_train.append(p)
    while len(pref_test) < args.pref_test:
        p = pref_pair(rng, test_facts)
        key = json.dumps(p, sort_keys=True)
        if key not in seen:
            seen.add(key)
            pref_test.append(p)
    pmc = []
    for p in pref_test:
        choices = [p["chosen"], p["rejected"]]
        gold = rng.randint(0, 1)
        if gold == 1:
            choices.reverse()
        pmc.append({"context": render_chat([{"role": "user", "content": p["prompt"]}], add_generation_prompt=True),
                    "choices": choices, "gold": gold, "prompt": p["prompt"]})

    # vocabulary: every word of everything generated
    vocab_words = set()
    for text in docs + valid:
        vocab_words.update(words(text))
    for r in sft_train + sft_test:
        for m in r["messages"]:
            vocab_words.update(words(m["content"]))
    for p in pref_train + pref_test:
        for k in ("prompt", "chosen", "rejected"):
            vocab_words.update(words(p[k]))
    pre_words = set()
    for text in docs:
        pre_words.update(words(text))
    missing = vocab_words - pre_words
    if missing:
        raise SystemExit(f"words never seen in pretraining: {sorted(missing)}")
    tok = Tokenizer.from_words(vocab_words)

    model_dir = os.path.join(args.assets, "model")
    data_dir = os.path.join(args.assets, "data")
    for d in (model_dir, data_dir, args.build):
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(model_dir, "tokenizer.json"), "w") as f:
        json.dump(tok.tokenizer_json(), f, indent=1, ensure_ascii=True)
        f.write("\n")
    with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
        json.dump(Tokenizer.tokenizer_config(), f, indent=2, ensure_ascii=True)
        f.write("\n")
    write_jsonl(os.path.join(data_dir, "sft_train.jsonl"), sft_train)
    write_jsonl(os.path.join(data_dir, "sft_test.jsonl"), sft_test)
    write_jsonl(os.path.join(data_dir, "pref_train.jsonl"), pref_train)
    write_jsonl(os.path.join(data_dir, "pref_test.jsonl"), pref_test)
    write_jsonl(os.path.join(data_dir, "task_mc.jsonl"), tmc)
    write_jsonl(os.path.join(data_dir, "pref_mc.jsonl"), pmc)
    with open(os.path.join(args.build, "pretrain_train.txt"), "w") as f:
        f.write("\n".join(docs) + "\n")
    with open(os.path.join(args.build, "pretrain_valid.txt"), "w") as f:
        f.write("\n".join(valid) + "\n")
    # world facts, for the README / inspection
    with open(os.path.join(args.build, "world.json"), "w") as f:
        json.dump({"train_facts": train_facts, "test_facts": test_facts}, f)

    fixture_texts = [
        "tom lives in paris .",
        "Tom lives in Paris.",
        "what is 3 plus 4 ?",
        "sure ! the answer is 7 . hope this helps !",
        "hello zorblax , are you there?!",
        "<|user|>\nwhere does anna live ?</s>\n<|assistant|>\nthe answer is rome .</s>\n",
        render_chat([{"role": "system", "content": "be nice ."},
                     {"role": "user", "content": "how much is 12 plus 12 ?"}], add_generation_prompt=True),
    ]
    fixture = {"vocab_size": len(tok.vocab), "cases": [
        {"text": t, "ids": tok.encode(t), "decoded": tok.decode(tok.encode(t))} for t in fixture_texts]}
    fx_dir = os.path.join(root, "src/test/resources/dev/paft/demo")
    os.makedirs(fx_dir, exist_ok=True)
    with open(os.path.join(fx_dir, "tokenizer_fixture.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")

    ntok = sum(len(tok.encode(d)) + 1 for d in docs)
    print(f"facts {len(facts)} (train {len(train_facts)}, held-out {len(test_facts)}); vocab {len(tok.vocab)}")
    print(f"pretrain docs {len(docs)} ({ntok} tokens); sft train {len(sft_train)} test {len(sft_test)}; "
          f"pref train {len(pref_train)} test {len(pref_test)}; task mc {len(tmc)}; pref mc {len(pmc)}")


if __name__ == "__main__":
    main()
