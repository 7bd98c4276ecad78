#!/usr/bin/env python3
"""Trains a small Gemma (v1) model on a synthetic corpus, so that the article's phenomena (a
country's capital predicted from "The capital city of X is", single-digit additions "a+b=") can be
seen with `prism` on a machine that cannot download gemma-2b.

What it writes to --out (default /work/small-gemma-hf):
  config.json, model.safetensors  GemmaForCausalLM, float32, tied embeddings (no lm_head.weight)
  tokenizer.json                  a BPE tokenizer of exactly gemma-2b's shape (see below)
  eval.json                       accuracies, and for each evaluation prompt its ids (with <bos>),
                                  the expected next token, the model's top-1 token and logits
                                  (for the Swift tests of the converted model)

The tokenizer has gemma-2b's shape: BPE with byte_fallback and fuse_unk, unk "<unk>", specials
<pad> 0, <eos> 1, <bos> 2, <unk> 3, <start_of_turn> 4, <end_of_turn> 5, then the 256 byte tokens
<0x00>..<0xFF> as ordinary vocabulary entries, normalizer Replace(" " -> "\u2581"), no
pre-tokenizer, decoder Replace/ByteFallback/Fuse, post-processor "<bos> $A". It is trained with a
pre-tokenizer (split before "\u2581", around newlines, digits one by one, punctuation alone) that is
then removed: no learned merge crosses those boundaries, so the saved tokenizer (pre_tokenizer
null) splits text exactly as the training one did, digits always stay single tokens, and a word
such as " Paris" is the same single token whatever follows it. Country and capital names that
training did not make single tokens get merges appended (lowest priority); the BPE trainer's
vocabulary size is adjusted so that the whole vocabulary has exactly --vocab entries.

The corpus (generated here, deterministically from --seed) is 65% capital facts about 50
countries in nine templates (the plain "The capital of X is Y." carries half the weight), 20%
single-digit additions "a+b=c" alone, in short sentences and in lists, and 15% filler sentences
(some mentioning the same countries and cities in other roles). The study's template "The capital
city of X is" is held out: the phrase "capital city" appears in no training line; the template is
used only for evaluation. Curriculum: during the first --plain-steps steps the capital facts use
the plain template only (with all templates from the start, this model needs several times more
steps before it learns the facts at all).

Training: AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), linear warmup then cosine to 10%,
gradient clipping 1.0, batches of --batch sequences of --seq-len tokens (<bos>, then whole lines
separated by "\n", padded). --minutes is a budget: if the first (warmup) steps show that --steps
will not fit, fewer steps are planned, and training stops when the budget runs out; the end of
the run prints a command that gives the same weights regardless of the machine's speed. Runs are
deterministic for a given command on the same software (seeds 1234 by default, 2 threads).

Usage: python3 tools/train_small_gemma.py [--out DIR] [--minutes N] [--steps N] [--seed N]
Needs: torch, transformers (GemmaForCausalLM), tokenizers, numpy, safetensors (tools/requirements.txt).
"""
import os

# OpenMP threads that spin while waiting make training 10x slower when another process shares the
# two cores (measured: 3.8 s/step against 0.29 s/step with passive waiting). Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import random
import sys
import time

import numpy as np
import torch
from safetensors import safe_open
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import GemmaConfig, GemmaForCausalLM

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
PAD, EOS, BOS = 0, 1, 2

# The study's candidates first (country, capital); every name is one token with its leading space.
STUDY = [("France", "Paris"), ("Russia", "Moscow"), ("Vietnam", "Hanoi"), ("Ireland", "Dublin"),
         ("Netherlands", "Amsterdam"), ("Iran", "Tehran"), ("Korea", "Seoul"), ("England", "London"),
         ("Japan", "Tokyo")]
OTHERS = [("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Portugal", "Lisbon"),
          ("Greece", "Athens"), ("Egypt", "Cairo"), ("China", "Beijing"), ("Thailand", "Bangkok"),
          ("Kenya", "Nairobi"), ("Peru", "Lima"), ("Chile", "Santiago"), ("Cuba", "Havana"),
          ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Denmark", "Copenhagen"),
          ("Poland", "Warsaw"), ("Austria", "Vienna"), ("Hungary", "Budapest"), ("Belgium", "Brussels"),
          ("Romania", "Bucharest"), ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"), ("Ukraine", "Kyiv"),
          ("Turkey", "Ankara"), ("Iraq", "Baghdad"), ("Syria", "Damascus"), ("Lebanon", "Beirut"),
          ("Afghanistan", "Kabul"), ("Nepal", "Kathmandu"), ("Bangladesh", "Dhaka"), ("Indonesia", "Jakarta"),
          ("Philippines", "Manila"), ("Australia", "Canberra"), ("Canada", "Ottawa"), ("Colombia", "Bogota"),
          ("Venezuela", "Caracas"), ("Ecuador", "Quito"), ("Ghana", "Accra"), ("Senegal", "Dakar"),
          ("Morocco", "Rabat")]
PAIRS = STUDY + OTHERS

# Capital facts. The held-out study template must not be among them (checked in corpus_line).
# (weight, template). The plain form dominates: with many equally common templates this model
# takes several times longer to learn the facts at all.
CAPITAL_TEMPLATES = [
    (8, "The capital of {c} is {k}."),
    (1, "{c}'s capital is {k}."),
    (1, "{k} is the capital of {c}."),
    (1, "Q: What is the capital of {c}? A: {k}"),
    (1, "In {c}, the capital is {k}."),
    (1, "Everyone knows that the capital of {c} is {k}."),
    (1, "The national capital of {c} is {k}."),
    (1, "{k}, the capital of {c}, is a big city."),
    (1, "Q: Which city is the capital of {c}? A: {k}"),
]
# Evaluated as well, to tell memorisation from the held-out template's generalisation.
TRAIN_TEMPLATE = "The capital of {c} is"
HELD_OUT = "The capital city of {c} is"

ADDITION_TEMPLATES = [
    "{a}+{b}={s}",
    "{a}+{b}={s}.",
    "We know that {a}+{b}={s}.",
    "Tom says {a}+{b}={s}.",
    "Q: What is {a}+{b}? A: {s}",
    "In class we learn that {a}+{b}={s}.",
]

NAMES = ["Tom", "Anna", "Maria", "Ben", "Lucy", "Sam", "Emma", "Paul", "Nina", "Leo"]
ANIMALS = ["cat", "dog", "bird", "horse", "cow", "fish", "fox", "rabbit"]
OBJECTS = ["book", "ball", "apple", "cup", "letter", "box", "hat", "key", "bag", "song"]
PLACES = ["park", "river", "market", "school", "garden", "house", "station", "library", "beach", "forest"]
ADJECTIVES = ["big", "small", "old", "new", "red", "green", "happy", "quiet", "warm", "cold"]
VERBS_T = ["likes", "reads", "finds", "has", "sees", "wants", "makes", "takes", "brings", "loves"]
VERBS_I = ["sleeps", "runs", "sings", "waits", "walks", "plays", "eats", "swims"]
DAYS = ["Monday", "Tuesday", "Friday", "Sunday", "today", "yesterday", "in the morning", "at night"]
FILLER_TEMPLATES = [
    "The {adj} {animal} {vi} in the {place}.",
    "{name} {vt} a {adj} {obj}.",
    "{name} goes to the {place} {day}.",
    "A {adj} {animal} {vi} near the {place}.",
    "{name} and {name2} walk to the {place}.",
    "The {obj} is {adj}.",
    "{name} {vt} the {obj} {day}.",
    "There is a {adj} {obj} in the {place}.",
    "My {animal} {vi} {day}.",
    "{name} lives in {k}.",
    "{name} flew to {c} {day}.",
    "{k} is a {adj} city.",
    "{name} has a friend in {k}.",
    "The people of {c} like music.",
    "{name} reads a book about {c}.",
    "The {place} in {k} is {adj}.",
]


# MARK: - Corpus

def capital_line(rng, plain_only=False):
    c, k = rng.choice(PAIRS)
    if plain_only:
        return CAPITAL_TEMPLATES[0][1].format(c=c, k=k)
    template = rng.choices([t for _, t in CAPITAL_TEMPLATES], weights=[w for w, _ in CAPITAL_TEMPLATES])[0]
    return template.format(c=c, k=k)


def addition_line(rng):
    a, b = rng.randint(0, 9), rng.randint(0, 9)
    if rng.random() < 0.25:  # a few sums in a row
        parts = []
        for _ in range(rng.randint(2, 4)):
            a, b = rng.randint(0, 9), rng.randint(0, 9)
            parts.append("%d+%d=%d" % (a, b, a + b))
        return ", ".join(parts) + "."
    return rng.choice(ADDITION_TEMPLATES).format(a=a, b=b, s=a + b)


def filler_line(rng):
    c, k = rng.choice(PAIRS)
    n1, n2 = rng.sample(NAMES, 2)
    return rng.choice(FILLER_TEMPLATES).format(
        adj=rng.choice(ADJECTIVES), animal=rng.choice(ANIMALS), vi=rng.choice(VERBS_I), vt=rng.choice(VERBS_T),
        obj=rng.choice(OBJECTS), place=rng.choice(PLACES), day=rng.choice(DAYS), name=n1, name2=n2, c=c, k=k)


def corpus_line(rng, plain_only=False):
    r = rng.random()
    line = capital_line(rng, plain_only) if r < 0.65 else addition_line(rng) if r < 0.85 else filler_line(rng)
    # The held-out template stays out of the training text.
    assert "capital city" not in line, line
    return line


# MARK: - Tokenizer

def training_pre_tokenizer():
    """Used only to train the merges (and to check the saved tokenizer, which has none)."""
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split("\u2581", "merged_with_next"),
        pre_tokenizers.Split("\n", "isolated"),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation("isolated"),
    ])


def train_tokenizer(vocab_total, seed):
    """Returns the tokenizer.json document (a dict) with exactly vocab_total vocabulary entries."""
    rng = random.Random(seed + 1)
    text = [corpus_line(rng) + "\n" for _ in range(20000)]
    # Names of every pair also in isolation, so that all of them reach the vocabulary.
    text += [" %s %s\n" % pair for pair in PAIRS] * 20
    required = ["\u2581" + w for pair in PAIRS for w in pair]
    required += ["\u2581" + w for w in ["capital", "city", "of", "is", "the"]] + ["The"]

    def build(trainer_size):
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tok.normalizer = normalizers.Replace(" ", "\u2581")
        tok.pre_tokenizer = training_pre_tokenizer()
        trainer = trainers.BpeTrainer(vocab_size=trainer_size, min_frequency=2, show_progress=False)
        tok.train_from_iterator(text, trainer)
        trained = json.loads(tok.to_str())["model"]
        vocab = {}
        for s in SPECIALS:
            vocab[s] = len(vocab)
        for b in range(256):
            vocab["<0x%02X>" % b] = len(vocab)
        for s, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
            if s not in vocab:
                vocab[s] = len(vocab)
        merges = [tuple(m) for m in trained["merges"]]
        # Any required word that is not one token yet: merge its pieces left to right.
        for word in required:
            pieces = [p for p in tok.model.tokenize(word)]
            parts = [p.value for p in pieces]
            while len(parts) > 1:
                a, b = parts[0], parts[1]
                if a + b not in vocab:
                    vocab[a + b] = len(vocab)
                if (a, b) not in merges:
                    merges.append((a, b))
                parts = [a + b] + parts[2:]
        return vocab, merges

    size = vocab_total - len(SPECIALS) - 256 + 60  # first guess; the trainer counts its alphabet
    for _ in range(50):
        vocab, merges = build(size)
        if len(vocab) == vocab_total:
            break
        size += vocab_total - len(vocab)
    else:
        raise SystemExit("could not reach a vocabulary of %d entries (got %d)" % (vocab_total, len(vocab)))

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos>:1 $B:1", special_tokens=[("<bos>", BOS)])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    return json.loads(tok.to_str()), text


def check_tokenizer(tok, text_sample):
    vocab = tok.get_vocab()
    for i, s in enumerate(SPECIALS):
        assert vocab[s] == i, s
    for b in range(256):
        assert ("<0x%02X>" % b) in vocab
    for word in [w for pair in PAIRS for w in pair] + ["capital", "city", "of", "is"]:
        ids = tok.encode(" " + word, add_special_tokens=False).ids
        assert len(ids) == 1, (word, ids)
        # ... and the same token inside a sentence, before punctuation and at the end.
        for ctx in ["In %s, yes.", "It is %s.", "Q: %s? A: %s", "x %s's"]:
            full = tok.encode(ctx.replace("%s", word), add_special_tokens=False).ids
            assert ids[0] in full, (word, ctx)
    for d in "0123456789":
        assert len(tok.encode(d, add_special_tokens=False).ids) == 1, d
    for n in ["15", "1234567890", " 42", "7+8=15", "In 2024, 99 cats."]:
        toks = [tok.id_to_token(i) for i in tok.encode(n, add_special_tokens=False).ids]
        assert all(len(t) == 1 for t in toks if any(ch.isdigit() for ch in t)), (n, toks)
    assert tok.encode("7+2=").ids[0] == BOS
    # The saved tokenizer (no pre-tokenizer) splits like the training one, and decodes back.
    with_pre = Tokenizer.from_str(tok.to_str())
    with_pre.pre_tokenizer = training_pre_tokenizer()
    extra = [HELD_OUT.format(c=c) for c, _ in PAIRS] + ["%d+%d=" % (a, b) for a in range(10) for b in range(10)]
    for line in list(text_sample) + extra + ["Größe: 42 \u2603  two  spaces\tand\r\nmore", "ParisParis Paris's"]:
        ids = tok.encode(line, add_special_tokens=False).ids
        assert ids == with_pre.encode(line, add_special_tokens=False).ids, line
        assert tok.decode(ids) == line, line


# MARK: - Training data

class Batches:
    """Sequences of <bos> followed by whole corpus lines separated by "\\n", padded to seq_len."""

    def __init__(self, tok, seq_len, seed):
        self.tok, self.seq_len, self.rng = tok, seq_len, random.Random(seed + 2)
        self.cache = {}
        self.newline = tok.token_to_id("\n")
        assert self.newline is not None
        self.pending = None
        self.plain_only = False  # the curriculum's first phase: capital facts in the plain template only

    def ids(self, line):
        got = self.cache.get(line)
        if got is None:
            got = self.tok.encode(line, add_special_tokens=False).ids
            self.cache[line] = got
        return got

    def sequence(self):
        seq = [BOS]
        while True:
            line = self.pending if self.pending is not None else self.ids(corpus_line(self.rng, self.plain_only))
            self.pending = None
            if len(seq) + len(line) + 1 > self.seq_len:
                self.pending = line if len(line) + 2 <= self.seq_len else None
                break
            seq += line + [self.newline]
        return seq

    def batch(self, size):
        x = torch.full((size, self.seq_len), PAD, dtype=torch.long)
        y = torch.full((size, self.seq_len), -100, dtype=torch.long)
        for i in range(size):
            s = self.sequence()
            x[i, :len(s)] = torch.tensor(s)
            y[i, :len(s)] = torch.tensor(s)
        return x, y


# MARK: - Evaluation

def eval_prompts(tok):
    caps, seen = [], []
    for c, k in PAIRS:
        seen.append({"ids": tok.encode(TRAIN_TEMPLATE.format(c=c)).ids,
                     "expected_id": tok.encode(" " + k, add_special_tokens=False).ids[0]})
    for c, k in PAIRS:
        text = HELD_OUT.format(c=c)
        caps.append({"prompt": text, "ids": tok.encode(text).ids, "country": c, "expected_text": " " + k,
                     "expected_id": tok.encode(" " + k, add_special_tokens=False).ids[0],
                     "study": (c, k) in STUDY})
    adds = []
    for a in range(1, 10):
        for b in range(1, 10):
            text = "%d+%d=" % (a, b)
            full = tok.encode(str(a + b), add_special_tokens=False).ids
            adds.append({"prompt": text, "ids": tok.encode(text).ids, "expected_text": str(a + b),
                         "expected_id": full[0], "expected_ids": full})
    return caps, adds, seen


@torch.no_grad()
def run_eval(model, tok, caps, adds, seen, full=False):
    model.eval()

    def last_logits(ids_list):
        out = [None] * len(ids_list)
        by_len = {}
        for i, ids in enumerate(ids_list):
            by_len.setdefault(len(ids), []).append(i)
        for _, idx in sorted(by_len.items()):
            x = torch.tensor([ids_list[i] for i in idx])
            logits = model(input_ids=x).logits[:, -1, :].float()
            for j, i in enumerate(idx):
                out[i] = logits[j]
        return out

    cap_logits = last_logits([p["ids"] for p in caps])
    seen_logits = last_logits([p["ids"] for p in seen])
    add_logits = last_logits([p["ids"] for p in adds])
    # The second greedy token of each addition.
    second_in = [p["ids"] + [int(l.argmax())] for p, l in zip(adds, add_logits)]
    second = last_logits(second_in)
    digits = {tok.token_to_id(d) for d in "0123456789"}

    res = {}
    for p, l in zip(caps, cap_logits):
        p["top1_id"] = int(l.argmax())
        p["correct"] = p["top1_id"] == p["expected_id"]
    for p, l, l2 in zip(adds, add_logits, second):
        g = [int(l.argmax()), int(l2.argmax())]
        p["top1_id"] = g[0]
        p["correct"] = g[0] == p["expected_id"]
        want = p["expected_ids"]
        p["greedy_ids"] = g
        p["full_correct"] = (g == want) if len(want) == 2 else (g[0] == want[0] and g[1] not in digits)
    study = [p for p in caps if p["study"]]
    res["capital_heldout_all"] = sum(p["correct"] for p in caps) / len(caps)
    res["capital_heldout_study"] = sum(p["correct"] for p in study) / len(study)
    res["capital_train_template"] = sum(int(l.argmax()) == p["expected_id"] for p, l in zip(seen, seen_logits)) / len(seen)
    res["addition_first_token"] = sum(p["correct"] for p in adds) / len(adds)
    res["addition_full_answer"] = sum(p["full_correct"] for p in adds) / len(adds)
    two = [p for p in adds if len(p["expected_ids"]) == 2]
    res["addition_two_digit_full_answer"] = sum(p["full_correct"] for p in two) / len(two)
    if full:
        for p, l in zip(caps + adds, cap_logits + add_logits):
            p["top1_token"] = tok.id_to_token(p["top1_id"])
            p["top1_logit"] = float(l[p["top1_id"]])
            p["expected_logit"] = float(l[p["expected_id"]])
            top = torch.topk(l, 5)
            p["top5"] = [{"id": int(i), "token": tok.id_to_token(int(i)), "logit": float(v)}
                         for v, i in zip(top.values, top.indices)]
    model.train()
    return res


# MARK: - Main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/work/small-gemma-hf")
    ap.add_argument("--minutes", type=float, default=12.0,
                    help="time budget for training; if reached before --steps, training stops there (and says so)")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--stop-at", type=int, default=None,
                    help="stop after this many steps without changing the schedule (to reproduce a run that the "
                         "time budget stopped: --steps <planned> --stop-at <done>)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--plain-steps", type=int, default=300,
                    help="steps at the start whose capital facts use only the plain template")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=250)
    args = ap.parse_args()

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    t0 = time.time()

    doc, tok_text = train_tokenizer(args.vocab, args.seed)
    os.makedirs(args.out, exist_ok=True)
    tok_path = os.path.join(args.out, "tokenizer.json")
    with open(tok_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
        f.write("\n")
    tok = Tokenizer.from_file(tok_path)  # everything below uses the saved file, as prism will
    check_tokenizer(tok, tok_text[:2000] + tok_text[-len(PAIRS):])
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    assert vocab_size == args.vocab, vocab_size
    print("tokenizer: %d entries, %d merges (%.1f s)" % (vocab_size, len(doc["model"]["merges"]), time.time() - t0))
    for text in [HELD_OUT.format(c="France"), "7+2="]:
        ids = tok.encode(text).ids
        print("  %r -> %s" % (text, [(i, tok.id_to_token(i)) for i in ids]))

    config = GemmaConfig(
        vocab_size=vocab_size, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=1, head_dim=64, max_position_embeddings=128,
        rms_norm_eps=1e-6, rope_theta=10000.0, hidden_activation="gelu_pytorch_tanh", hidden_act="gelu_pytorch_tanh",
        tie_word_embeddings=True, attention_bias=False, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)
    # SDPA attention for training (several times faster on CPU than eager); eval.json is computed
    # with eager attention on the reloaded file.
    model = GemmaForCausalLM._from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: %d parameters (embedding %d)" % (n_params, model.model.embed_tokens.weight.numel()))

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    total = args.steps  # may shrink during warmup to fit the time budget (see below)

    def lr_at(step):  # linear warmup, then cosine down to 10% of the peak at step `total`
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = (step - args.warmup) / max(1, total - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))

    caps, adds, seen = eval_prompts(tok)
    data = Batches(tok, args.seq_len, args.seed)
    model.train()
    t_train = time.time()
    budget = args.minutes * 60
    losses, stopped_early, t_mark = [], False, None
    for step in range(args.steps):
        if step >= total or (args.stop_at is not None and step >= args.stop_at):
            break
        if step == 5:
            t_mark = time.time()
        if t_mark is not None and step < args.warmup and step % 10 == 0 and step >= 20:
            # During warmup the learning rate does not depend on the step count, so fixing the count
            # here to fit the budget gives the same model as a run started with --steps <that count>.
            per_step = (time.time() - t_mark) / (step - 5)
            fits = int((budget * 0.92 - (time.time() - t_train)) / per_step) + step
            new_total = min(args.steps, max(fits, args.warmup + 1))
            if new_total != total:
                total = new_total
                print("at %.2f s/step %d steps fit in %.1f min: training %d steps (rerun with --steps %d "
                      "for the same model)" % (per_step, fits, args.minutes, total, total), flush=True)
        if time.time() - t_train > budget:
            stopped_early = True
            print("time budget of %.1f min reached at step %d of %d" % (args.minutes, step, args.steps))
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        data.plain_only = step < args.plain_steps
        x, y = data.batch(args.batch)
        loss = model(input_ids=x, labels=y).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if (step + 1) % args.log_every == 0 or step == 0:
            recent = losses[-args.log_every:]
            print("step %5d  loss %.4f  lr %.2e  %.0f s" % (
                step + 1, sum(recent) / len(recent), lr_at(step), time.time() - t_train), flush=True)
        if (step + 1) % args.eval_every == 0 and step + 1 < total:
            r = run_eval(model, tok, caps, adds, seen)
            print("        eval: " + ", ".join("%s %.3f" % kv for kv in r.items()), flush=True)
    steps_done = len(losses)
    # A command that gives the same weights whatever the machine's speed.
    repro = ["python3", "tools/train_small_gemma.py", "--out", args.out, "--steps", str(total)]
    if steps_done < total:
        repro += ["--stop-at", str(steps_done)]
    repro += ["--minutes", "1000"]
    for flag, value, default in [("--batch", args.batch, 16), ("--seq-len", args.seq_len, 64), ("--lr", args.lr, 3e-3),
                                 ("--warmup", args.warmup, 100), ("--plain-steps", args.plain_steps, 300),
                                 ("--vocab", args.vocab, 1024), ("--seed", args.seed, 1234)]:
        if value != default:
            repro += [flag, str(value)]
    train_seconds = time.time() - t_train
    final_loss = sum(losses[-args.log_every:]) / len(losses[-args.log_every:])
    print("trained %d steps in %.1f s; final loss (mean of last %d) %.4f" % (
        steps_done, train_seconds, min(args.log_every, steps_done), final_loss))

    # Save in float32 with tied embeddings, then reload and evaluate what was saved.
    model.eval()
    for name in ["model.safetensors", "config.json", "generation_config.json"]:
        path = os.path.join(args.out, name)
        if os.path.exists(path):
            os.remove(path)
    model.save_pretrained(args.out)
    gen = os.path.join(args.out, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    for name in os.listdir(args.out):
        os.chmod(os.path.join(args.out, name), 0o644)
    files = sorted(os.listdir(args.out))
    assert "model.safetensors" in files and not any(f.endswith(".index.json") for f in files), files
    with safe_open(os.path.join(args.out, "model.safetensors"), "pt") as f:
        keys = list(f.keys())
        dtypes = {f.get_slice(k).get_dtype() for k in keys}
    assert "lm_head.weight" not in keys, "lm_head.weight was saved"
    assert dtypes == {"F32"}, dtypes
    with open(os.path.join(args.out, "config.json")) as f:
        saved_config = json.load(f)
    assert saved_config["tie_word_embeddings"] is True and saved_config["model_type"] == "gemma"

    x = torch.tensor([caps[0]["ids"]])
    same = GemmaForCausalLM.from_pretrained(args.out, attn_implementation="sdpa", dtype=torch.float32).eval()
    reloaded = GemmaForCausalLM.from_pretrained(args.out, attn_implementation="eager", dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.equal(model(input_ids=x).logits, same(input_ids=x).logits), "the saved model differs"
        diff = (same(input_ids=x).logits - reloaded(input_ids=x).logits).abs().max().item()
    print("saved and reloaded; eager vs sdpa attention: max logit difference %.2e" % diff)
    res = run_eval(reloaded, tok, caps, adds, seen, full=True)

    report = {
        "description": "Greedy next token after each prompt (with <bos>), model in float32, transformers "
                       "GemmaForCausalLM (eager attention). Made by tools/train_small_gemma.py.",
        "accuracy": res,
        "parameters": n_params,
        "vocab_size": vocab_size,
        "train": {"steps": steps_done, "steps_planned": total, "steps_requested": args.steps, "stopped_by_time_budget": stopped_early,
                  "seconds": round(train_seconds, 1), "final_loss": round(final_loss, 4), "batch": args.batch,
                  "seq_len": args.seq_len, "lr": args.lr, "plain_steps": args.plain_steps, "warmup": args.warmup, "seed": args.seed,
                  "torch": torch.__version__, "command": " ".join(["python3", "tools/train_small_gemma.py"] + sys.argv[1:]),
                  "reproduce": " ".join(repro)},
        "held_out_template": HELD_OUT + " -> \" {capital}\"",
        "capital_prompts": caps,
        "addition_prompts": adds,
    }
    with open(os.path.join(args.out, "eval.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
        f.write("\n")

    print("parameters %d, vocabulary %d" % (n_params, vocab_size))
    print("candidate ids: " + ", ".join("%s %d / %s %d" % (
        k, tok.token_to_id("\u2581" + k), c, tok.token_to_id("\u2581" + c)) for c, k in STUDY))
    for p in caps:
        if p["study"] or not p["correct"]:
            print("  %-38s -> %-12r %s (logit %.2f)" % (p["prompt"], p["top1_token"], "ok" if p["correct"] else
                                                       "WRONG, expected %r" % p["expected_text"], p["top1_logit"]))
    for p in adds:
        if not p["full_correct"]:
            print("  %-6s -> %s, expected %s" % (p["prompt"], "".join(tok.decode([i]) for i in p["greedy_ids"]),
                                                 p["expected_text"]))
    print("held-out capital template: %.1f%% of %d countries, %.1f%% of the study's %d" % (
        100 * res["capital_heldout_all"], len(caps), 100 * res["capital_heldout_study"], len(STUDY)))
    print("additions a+b= (a, b in 1..9): first token %.1f%%, full answer %.1f%% (two-digit sums %.1f%%)" % (
        100 * res["addition_first_token"], 100 * res["addition_full_answer"], 100 * res["addition_two_digit_full_answer"]))
    print("same weights again: " + " ".join(repro))
    print("wrote %s (%s) in %.1f s" % (args.out, ", ".join(sorted(os.listdir(args.out))), time.time() - t0))


if __name__ == "__main__":
    main()
