#!/usr/bin/env python3
"""Write a checkpoint with the exact file layout of google/gemma-2b, filled with random bf16 weights.

    python3 tools/make_shaped_checkpoint.py [OUTPUT_DIR] [--seed N] [--skip-weights] [--skip-tokenizer]

OUTPUT_DIR defaults to /work/shaped-gemma-2b (keep it outside the repository: it is about 5.0 GB).

What is written:
  config.json                        the 2024 config.json of google/gemma-2b (rope_theta at top level,
                                     "hidden_act": "gelu", "torch_dtype": "bfloat16")
  model-00001-of-00002.safetensors   bf16 tensors, names/shapes of gemma-2b (tied embeddings: no lm_head)
  model-00002-of-00002.safetensors
  model.safetensors.index.json       {"metadata": {"total_size": ...}, "weight_map": {name: shard}}
  tokenizer.json                     a synthetic tokenizer of Gemma's shape with exactly 256000 ids

Shard split: transformers 4.38 `save_pretrained` (which wrote the gemma-2b repository) walks the state dict
in module order (embed_tokens, then per layer q,k,v,o,gate,up,down,input_layernorm,post_attention_layernorm,
then norm) and opens a new shard when the next tensor would push the current one past max_shard_size
("5GB" = 5 * 10**9 bytes). For gemma-2b that puts everything up to model.layers.17.mlp.up_proj in shard 1
(4,945,223,680 bytes of data, the "4.95 GB" file) and layer 17's down_proj and two norms plus model.norm in
shard 2 (67,121,152 bytes, the "67.1 MB" file). This script applies the same rule. Inside each file the
tensors are ordered by name, as the safetensors library writes them.

Everything is streamed: each shard's header is written first, then every tensor is generated and written in
chunks of at most CHUNK elements, so memory stays at a few hundred MB. Values are drawn from a 65536-entry
table of bf16-rounded normal quantiles indexed by random uint16s (exactly normal-shaped, and ~10x faster than
numpy's normal sampler followed by a float32 -> bf16 conversion).
"""

import argparse
import json
import os
import resource
import struct
import sys
import time
from statistics import NormalDist

import numpy as np

DEFAULT_OUT = "/work/shaped-gemma-2b"

VOCAB = 256000
HIDDEN = 2048
LAYERS = 18
HEADS = 8
KV_HEADS = 1
HEAD_DIM = 256
INTER = 16384

CONFIG = {
    "architectures": ["GemmaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "head_dim": HEAD_DIM,
    "hidden_act": "gelu",
    "hidden_size": HIDDEN,
    "initializer_range": 0.02,
    "intermediate_size": INTER,
    "max_position_embeddings": 8192,
    "model_type": "gemma",
    "num_attention_heads": HEADS,
    "num_hidden_layers": LAYERS,
    "num_key_value_heads": KV_HEADS,
    "pad_token_id": 0,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.38.0.dev0",
    "use_cache": True,
    "vocab_size": VOCAB,
}

MAX_SHARD_BYTES = 5 * 10**9  # transformers' "5GB"
CHUNK = 16 * 1024 * 1024  # elements generated at once (32 MB of bf16)

# Standard deviations. Embedding rows: x = E[id] * sqrt(2048) has rms ~1.4 and, after the final norm,
# logits = h . E[v] have a spread of ~1.4 (max over the vocabulary ~7): sane.
STD_EMBED = 0.03
STD_PROJ = 0.02
STD_NORM = 0.1


def tensor_specs():
    """(name, shape, std) in state-dict (module) order."""
    specs = [("model.embed_tokens.weight", (VOCAB, HIDDEN), STD_EMBED)]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        specs += [
            (p + "self_attn.q_proj.weight", (HEADS * HEAD_DIM, HIDDEN), STD_PROJ),
            (p + "self_attn.k_proj.weight", (KV_HEADS * HEAD_DIM, HIDDEN), STD_PROJ),
            (p + "self_attn.v_proj.weight", (KV_HEADS * HEAD_DIM, HIDDEN), STD_PROJ),
            (p + "self_attn.o_proj.weight", (HIDDEN, HEADS * HEAD_DIM), STD_PROJ),
            (p + "mlp.gate_proj.weight", (INTER, HIDDEN), STD_PROJ),
            (p + "mlp.up_proj.weight", (INTER, HIDDEN), STD_PROJ),
            (p + "mlp.down_proj.weight", (HIDDEN, INTER), STD_PROJ),
            (p + "input_layernorm.weight", (HIDDEN,), STD_NORM),
            (p + "post_attention_layernorm.weight", (HIDDEN,), STD_NORM),
        ]
    specs.append(("model.norm.weight", (HIDDEN,), STD_NORM))
    return specs


def nbytes(shape):
    n = 2
    for d in shape:
        n *= d
    return n


def split_shards(specs):
    """transformers 4.38 shard_checkpoint rule: new shard when the next tensor would exceed the limit."""
    shards, cur, cur_size = [], [], 0
    for spec in specs:
        size = nbytes(spec[1])
        if cur and cur_size + size > MAX_SHARD_BYTES:
            shards.append(cur)
            cur, cur_size = [], 0
        cur.append(spec)
        cur_size += size
    shards.append(cur)
    return shards


def bf16_table(std):
    """65536 bf16 bit patterns: the normal(0, std) quantiles at (i + 0.5) / 65536, rounded to nearest even."""
    nd = NormalDist(0.0, std)
    p = (np.arange(65536, dtype=np.float64) + 0.5) / 65536.0
    f = np.array([nd.inv_cdf(v) for v in p], dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return r


def safetensors_header(entries):
    """entries: list of (name, shape) in file order. Returns header bytes (length prefix + padded JSON)."""
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape in entries:
        n = nbytes(shape)
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)
    return struct.pack("<Q", len(js)) + js, off


def write_weights(out, seed):
    specs = tensor_specs()
    shards = split_shards(specs)
    if len(shards) != 2:
        raise SystemExit(f"expected 2 shards, got {len(shards)}")
    tables = {}
    total = 0
    weight_map = {}
    files = []
    tensor_index = {spec[0]: i for i, spec in enumerate(specs)}
    for si, shard in enumerate(shards):
        fname = f"model-{si + 1:05d}-of-{len(shards):05d}.safetensors"
        files.append(fname)
        ordered = sorted(shard, key=lambda s: s[0])
        head, data_len = safetensors_header([(n, s) for n, s, _ in ordered])
        path = os.path.join(out, fname)
        t0 = time.time()
        with open(path, "wb") as f:
            f.write(head)
            for name, shape, std in ordered:
                if std not in tables:
                    tables[std] = bf16_table(std)
                table = tables[std]
                # One generator per tensor, seeded by (seed, position in the state dict): deterministic.
                rng = np.random.Generator(np.random.PCG64([seed, tensor_index[name]]))
                count = nbytes(shape) // 2
                done = 0
                while done < count:
                    n = min(CHUNK, count - done)
                    idx = rng.integers(0, 65536, n, dtype=np.uint16)
                    f.write(np.take(table, idx).tobytes())
                    done += n
                weight_map[name] = fname
            total += data_len
        size = os.path.getsize(path)
        print(f"  {fname}: {len(shard)} tensors, {size:,} bytes ({time.time() - t0:.1f} s)", flush=True)
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return total


# ----------------------------------------------------------------------------------------------------------
# Tokenizer of Gemma's shape
# ----------------------------------------------------------------------------------------------------------

ENGLISH = """the of and to in is was for that on as with by he at from his it an were are which this be or
has had not first their its new after but who they have her she two been other when there all during into
school time may years more most only over city some world would where later up such used many can state
about national out known university united then made also between under than while both part three
through film year them people being team these during family series well before game since early
however won number called high long life any against season each name because including according
capital country government large small great work general second group following those including music
history local main because another public album several world around france paris london england
german french english american british europe european north south east west river century war
house house water place home day man men woman women child children way back down still even just
like make made over own same see think know take come could good how what why here there very much
king queen army church court law power land line side end point hand part head area form case fact
is are was were be been being am do does did done have has having go goes went gone get got say says said
one two three four five six seven eight nine ten hundred thousand million billion
January February March April May June July August September October November December
Monday Tuesday Wednesday Thursday Friday Saturday Sunday
The A In It This He She They We I You There On At For As But And If When What Which Who
Paris London Berlin Rome Madrid Tokyo China Japan India Germany Italy Spain Russia Canada
France capital city largest population language official located known""".split()

ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "y", "z",
          "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl", "pr", "sc", "sh", "sk", "sl",
          "sm", "sn", "sp", "st", "str", "sw", "th", "tr", "tw", "wh", "qu", "ph", "kn", "wr"]
VOWELS = ["a", "e", "i", "o", "u", "y", "ai", "ea", "ee", "ie", "oa", "oo", "ou", "au", "ei", "io"]
CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "d", "ng", "nd", "nt", "st", "rt", "ck", "sh", "th",
         "ll", "ss", "x", "ct", "rd", "ld", "mp", "ph", "ve", "ze"]
LATIN1 = "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßœŒ"


def _specials():
    toks = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<2mass>", "[@BOS@]"]
    toks += [f"<unused{i}>" for i in range(99)]
    toks += ["<start_of_turn>", "<end_of_turn>"]
    assert len(toks) == 108
    return toks


def _runs():
    """ids 108..216: runs of newlines, of '▁' and of tabs (each run > 1 is a chain merge)."""
    runs = ["\n" * k for k in range(1, 32)] + ["\u2581" * k for k in range(2, 41)] + ["\t" * k for k in range(1, 40)]
    assert len(runs) == 109
    return runs


def _pseudo_corpus(seed):
    import random

    r = random.Random(seed)
    counts = {}

    def add(w, c):
        counts[w] = counts.get(w, 0) + c

    seen = []
    for w in ENGLISH:
        if w not in seen:
            seen.append(w)
    for rank, w in enumerate(seen):
        c = 20000 // (rank + 1) + 400
        add("\u2581" + w, c)
        add("\u2581" + w.capitalize(), c // 4 + 50)
        add(w.capitalize(), c // 8 + 50)  # sentence-initial, no dummy prefix in Gemma
    words = set()
    target = 420000
    while len(words) < target:
        n = r.choice((1, 1, 2, 2, 2, 3, 3, 4))
        w = "".join(r.choice(ONSETS) + r.choice(VOWELS) + r.choice(CODAS) for _ in range(n))
        if r.random() < 0.02:
            w = w[: r.randrange(len(w) + 1)] + r.choice(LATIN1) + w[r.randrange(len(w) + 1):]
        if len(w) >= 2:
            words.add(w)
    words = sorted(words)
    r.shuffle(words)
    for rank, w in enumerate(words):
        c = max(1, int(3000 / (rank + 1) ** 0.7))
        form = r.random()
        if form < 0.75:
            add("\u2581" + w, c)
        elif form < 0.85:
            add("\u2581" + w.capitalize(), c)
        else:
            add(w, c)
    return counts


def build_tokenizer(seed):
    """Returns the tokenizer.json dict with exactly VOCAB ids."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    specials = _specials()
    runs = _runs()
    byte_toks = [f"<0x{b:02X}>" for b in range(256)]
    alphabet = list("0123456789") + [chr(c) for c in range(33, 127) if not chr(c).isdigit()] + ["\u2581"]
    alphabet += [c for c in LATIN1 if c not in alphabet]
    fixed = specials + runs + byte_toks  # ids 0..472
    assert len(fixed) == 473

    counts = _pseudo_corpus(seed)
    n_merges_target = 240000
    trainer = trainers.BpeTrainer(
        vocab_size=len(alphabet) + n_merges_target,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        special_tokens=[],
    )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()

    def lines():
        items = sorted(counts.items())
        buf = []
        for w, c in items:
            buf.extend([w] * c)
            if len(buf) > 20000:
                yield " ".join(buf)
                buf = []
        if buf:
            yield " ".join(buf)

    tok.train_from_iterator(lines(), trainer=trainer)
    trained = json.loads(tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]

    vocab = {}
    for t in fixed:
        vocab[t] = len(vocab)
    for a in alphabet:
        if a not in vocab:
            vocab[a] = len(vocab)
    all_merges = []
    # runs of whitespace: chain merges, ranked first
    for base, lo in (("\n", 2), ("\u2581", 2), ("\t", 2)):
        k = lo
        while base * k in vocab:
            all_merges.append((base * (k - 1), base))
            k += 1
    for a, b in merges:
        if len(vocab) >= VOCAB:
            break
        ab = a + b
        if ab in vocab or a not in vocab or b not in vocab:
            continue
        vocab[ab] = len(vocab)
        all_merges.append((a, b))
    # fill the rest with single characters (CJK ideographs, then Hangul), like Gemma's large CJK coverage
    cp = 0x4E00
    while len(vocab) < VOCAB:
        ch = chr(cp)
        if ch not in vocab:
            vocab[ch] = len(vocab)
        cp += 1
        if cp == 0xA000:
            cp = 0xAC00
    assert len(vocab) == VOCAB and sorted(vocab.values()) == list(range(VOCAB))
    for a, b in all_merges:
        assert a in vocab and b in vocab and (a + b) in vocab, (a, b)

    special_ids = list(range(108))
    added = [
        {"id": i, "content": specials[i], "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i in special_ids
    ]
    bos = {"SpecialToken": {"id": "<bos>", "type_id": 0}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<bos>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in all_merges],  # 2024 string form
        },
    }


def write_tokenizer(out, seed):
    t0 = time.time()
    tj = build_tokenizer(seed)
    path = os.path.join(out, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=2)
        f.write("\n")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    assert tok.get_vocab_size(with_added_tokens=True) == VOCAB, tok.get_vocab_size()
    v = tj["model"]["vocab"]
    for t, i in (("<pad>", 0), ("<eos>", 1), ("<bos>", 2), ("<unk>", 3), ("<start_of_turn>", 106),
                 ("<end_of_turn>", 107)):
        assert v[t] == i and tok.token_to_id(t) == i
    print(f"  tokenizer.json: {os.path.getsize(path):,} bytes, {len(v)} ids, "
          f"{len(tj['model']['merges'])} merges ({time.time() - t0:.1f} s)")
    for text in ("The capital city of France is", "7+2=", "Größe: 42 \u2603"):
        enc = tok.encode(text)
        print(f"    {text!r}: ids {enc.ids} tokens {enc.tokens} -> decode {tok.decode(enc.ids)!r}")
    enc = tok.encode("7+2=")
    assert enc.tokens == ["<bos>", "7", "+", "2", "="], enc.tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output_dir", nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-weights", action="store_true", help="only config.json and tokenizer.json")
    ap.add_argument("--skip-tokenizer", action="store_true")
    args = ap.parse_args()
    out = os.path.abspath(args.output_dir)
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    total = None
    if not args.skip_weights:
        total = write_weights(out, args.seed)
        w_wall = time.time() - t0
        w_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        print(f"  weights: {w_wall:.1f} s, peak RSS so far {w_rss / 1024:.0f} MiB", flush=True)
    if not args.skip_tokenizer:
        # Training the BPE merges takes ~30 s and ~0.8 GiB (more than the streamed weights): done last so
        # that the weights' peak RSS is reported on its own above.
        write_tokenizer(out, args.seed)
    wall = time.time() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    size = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"done: {out}")
    if total is not None:
        print(f"  tensor data {total:,} bytes; parameters {total // 2:,}")
    print(f"  directory size {size:,} bytes ({size / 1e9:.2f} GB)")
    print(f"  wall time {wall:.1f} s, peak RSS {rss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
