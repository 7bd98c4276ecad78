#!/usr/bin/env python3
"""Writes Tests/Fixtures/tokenizer/: a small tokenizer of exactly Gemma's shape, trained with
Hugging Face `tokenizers` (pip install tokenizers), and the ids / decodings HF gives for a corpus of
hard cases. HF is the reference: every fixture tokenizer is reloaded with `Tokenizer.from_file`
and the expected values come from that reload.

Files written:
  tokenizer.json        merges as "a b" strings, no "ignore_merges" key (the 2024 gemma-2b form)
  tokenizer-pairs.json  the same tokenizer with merges as ["a", "b"] pairs (newer files)
  tokenizer-unk.json    byte tokens <0xE0>..<0xEF> removed, so 3-byte UTF-8 scalars that are not
                        in the vocabulary fall to <unk> (fuse_unk true)
  tokenizer-unk-nofuse.json  the same with fuse_unk false
  cases.json            encode/decode cases for all of the above, plus decode-only id lists
  long_case.json        a ~64 kB text and its ids
  malformed/*.json      small broken tokenizer.json variants the Swift loader must reject
  malformed-hf-loads.json  which of those HF itself loads (information only: the Swift loader also
                        rejects features it does not implement)

Strings whose exact scalars matter are stored as UTF-8 hex next to the readable text, so the
Swift tests do not depend on how any JSON library treats Unicode.

Usage: python3 tools/make_tokenizer_fixtures.py [output_dir]
"""
import json
import os
import random
import sys

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "Fixtures", "tokenizer")

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
CUSTOM = "<custom>"            # non-special added token, matched on raw text (normalized false)
NORMALIZED_ADDED = "hello world"  # non-special added token matched on normalized text; not in vocab

WORDS = ("the of and to in is was for that with as on by at from his her they this which are be "
         "have had not but were all one when there been their can more if will would about into "
         "time than only other new some could these two may first then do any like my now over "
         "such our man me even most made after also did many before must through back years where "
         "much your way well down should because each just those people how too little state good "
         "very make world still own see men work long get here between both life being under never "
         "day same another know while last might us great old year off come since against go came "
         "right used take three Paris London Gemma token model prism logit hello").split()
FRENCH = ["café", "été", "élève", "théâtre", "cafe\u0301", "e\u0301te\u0301", "re\u0301sume\u0301", "résumé", "naïve"]
CJK = ["日本語", "中文", "東京", "学生", "大学", "日本", "人"]
DEVANAGARI = ["नमस्ते", "हिन्दी", "भारत", "क्षत्रिय", "नमस्ते दुनिया"]
THAI = ["สวัสดี", "ภาษาไทย", "ขอบคุณ", "กรุงเทพ"]
EMOJI = ["👍", "👍🏽", "👋🏿", "👨\u200d👩\u200d👧", "🏳️\u200d🌈", "😀", "❤️"]
PUNCT = [".", ",", "!", "?", ";", ":", "(", ")", "\"", "'", "-", "<", ">", "/", "#"]


def training_text(rng, lines=6000):
    """Deterministic text that makes the interesting entries appear in the vocabulary."""
    out = []
    for i in range(lines):
        words = []
        for _ in range(rng.randint(4, 14)):
            r = rng.random()
            if r < 0.70:
                w = rng.choice(WORDS)
            elif r < 0.80:
                w = rng.choice(FRENCH)
            elif r < 0.84:
                w = rng.choice(CJK)
            elif r < 0.88:
                w = rng.choice(DEVANAGARI)
            elif r < 0.91:
                w = rng.choice(THAI)
            elif r < 0.94:
                w = rng.choice(EMOJI)
            elif r < 0.97:
                w = str(rng.randint(0, 100000))
            else:
                w = rng.choice(PUNCT)
            words.append(w)
        line = " ".join(words)
        k = i % 10
        if k == 0:
            line = "\ufeff" + line               # BOM-prefixed lines: keys beginning with U+FEFF
        elif k == 1:
            line = line.replace(" ", "\u00a0\u00a0", 2)  # U+00A0 runs
        elif k == 2:
            line = "\t" + line
        elif k == 3:
            line = line + "  "
        out.append(line + ("\r\n" if i % 3 == 0 else "\n"))
    return out


def train():
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    # Training only: keep "▁" attached to the following word and never merge digits.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("\u2581", "merged_with_next"),
        pre_tokenizers.Digits(individual_digits=True),
    ])
    trainer = trainers.BpeTrainer(vocab_size=1250, min_frequency=2, show_progress=False)
    tok.train_from_iterator(training_text(random.Random(1234)), trainer)
    model = json.loads(tok.to_str())["model"]
    return model["vocab"], [tuple(m) for m in model["merges"]]


def build(trained_vocab, trained_merges):
    vocab = {}
    for s in SPECIALS + [CUSTOM]:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for s, _ in sorted(trained_vocab.items(), key=lambda kv: kv[1]):
        if s not in vocab:
            vocab[s] = len(vocab)
    merges = [m for m in trained_merges if " " not in m[0] and " " not in m[1]]

    def ensure(token, left, right):
        """Adds `token` (with the merge that builds it) unless training produced it already."""
        for part in (left, right):
            if part not in vocab:
                vocab[part] = len(vocab)
        if token not in vocab:
            vocab[token] = len(vocab)
        if (left, right) not in merges:
            merges.append((left, right))

    # Distinct canonically-equivalent entries, BOM-prefixed keys, NBSP runs, CRLF.
    if "é" not in vocab:
        vocab["é"] = len(vocab)
    ensure("e\u0301", "e", "\u0301")
    ensure("\ufeff\u2581the", "\ufeff", "\u2581the")
    ensure("\u00a0\u00a0", "\u00a0", "\u00a0")
    ensure("\u00a0\u00a0\u00a0\u00a0", "\u00a0\u00a0", "\u00a0\u00a0")
    ensure("\r\n", "\r", "\n")
    ensure("👍🏽", "👍", "🏽")
    ensure("▁▁", "▁", "▁")
    return vocab, merges


def make_tokenizer(vocab, merges, fuse_unk=True):
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=fuse_unk))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos>:1 $B:1", special_tokens=[("<bos>", vocab["<bos>"])])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    tok.add_tokens([AddedToken(CUSTOM, special=False, normalized=False),
                    AddedToken(NORMALIZED_ADDED, special=False, normalized=True)])
    return json.loads(tok.to_str())


def to_legacy(doc):
    """The 2024 gemma-2b form: merges as "a b" strings and no ignore_merges key."""
    doc = json.loads(json.dumps(doc))
    for a, b in doc["model"]["merges"]:
        assert " " not in a and " " not in b, (a, b)
    doc["model"]["merges"] = ["%s %s" % (a, b) for a, b in doc["model"]["merges"]]
    del doc["model"]["ignore_merges"]
    return doc


def write_json(path, doc, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def hexs(s):
    return s.encode("utf-8").hex()


def case_corpus():
    c = [
        ("empty", ""),
        ("space", " "),
        ("spaces", "     "),
        ("tabs_newlines", "\t\t\n\n \n\t x\n"),
        ("crlf", "line one\r\nline two\r\n\r\n"),
        ("cr_alone", "a\rb\r"),
        ("digits", "0123456789"),
        ("long_number", "3141592653589793238462643383279502884197"),
        ("numbers_in_text", "In 2024 there were 1,234,567 people and 3.14159 pies."),
        ("english", "Hello world, the model of the prism is here."),
        ("paris", "The capital of France is Paris"),
        ("e_acute_nfc", "café été résumé"),
        ("e_acute_nfd", "cafe\u0301 e\u0301te\u0301 re\u0301sume\u0301"),
        ("e_acute_mixed", "é e\u0301 é e\u0301"),
        ("lone_combining", "\u0301\u0301x\u0301"),
        ("cjk", "日本語の中文テキスト"),
        ("cjk_rare", "鑫龘齉"),
        ("devanagari", "नमस्ते दुनिया, हिन्दी भारत क्षत्रिय"),
        ("thai", "สวัสดีครับ ภาษาไทย ขอบคุณ"),
        ("emoji", "👍 👍🏽 👋🏿 😀"),
        ("emoji_zwj", "👨\u200d👩\u200d👧 family 🏳️\u200d🌈"),
        ("emoji_unknown", "🦀🦖🫠"),
        ("control_bytes", "a\x00b\x01c\x07d\x1b[0m\x7f"),
        ("absent_chars", "Ωμέγα ☃ ∑ ∞ \U0001D11E"),
        ("special_bos", "<bos>hello"),
        ("special_turns", "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n"),
        ("special_adjacent", "<bos><bos><eos><pad><unk>"),
        ("special_partial", "<bos <start_of_turn <end_of_turn> <b"),
        ("custom_added", "a<custom>b <custom> <custom><custom>"),
        ("normalized_added", "say hello world now, hello  world, hello worlds"),
        ("added_inside_word", "xx<end_of_turn>yy"),
        ("leading_bom", "\ufeffthe text"),
        ("bom_inside", "a\ufeff the\ufeff"),
        ("nbsp", "a\u00a0b\u00a0\u00a0c\u00a0\u00a0\u00a0\u00a0d \u00a0"),
        ("lower_one_eighth_block", "\u2581already\u2581spaced\u2581\u2581"),
        ("byte_token_text", "<0x41><0xE2> literal"),
        ("mixed_all", "\ufeff<bos>Réponse:\u00a0café 👍🏽 中文 123\r\n<end_of_turn>"),
        ("only_specials", "<start_of_turn>"),
        ("trailing_space", "hello "),
        ("many_spaces_words", "the   of    and     to"),
        ("repeated_letter", "a" * 200),
        ("repeated_word", "the " * 100),
        ("long_run_letter", "a" * 2000),
        ("long_run_spaces", " " * 1000),
        ("long_run_newlines", "\n" * 500),
    ]
    return c


def encode_case(toks, name, text):
    results = {}
    for key, tok in toks.items():
        ids_bos = tok.encode(text, add_special_tokens=True).ids
        ids = tok.encode(text, add_special_tokens=False).ids
        results[key] = (ids_bos, ids)
    first = next(iter(results.values()))
    for key, r in results.items():
        assert r == first, "merge forms disagree on %s (%s)" % (name, key)
    ids_bos, ids = first
    tok = next(iter(toks.values()))
    d_skip = tok.decode(ids_bos, skip_special_tokens=True)
    d_keep = tok.decode(ids_bos, skip_special_tokens=False)
    return {
        "name": name, "text": text, "text_hex": hexs(text),
        "ids_bos": ids_bos, "ids": ids,
        "decode_skip_hex": hexs(d_skip), "decode_keep_hex": hexs(d_keep),
    }


def decode_only_cases(tok, vocab):
    b = lambda n: vocab["<0x%02X>" % n]
    v = lambda s: vocab[s]
    lists = [
        ("bytes_complete", [b(0xE2), b(0x96), b(0x81)]),
        ("bytes_trailing_incomplete", [v("\u2581the"), b(0xE2), b(0x96)]),
        ("bytes_trailing_lead_only", [v("\u2581the"), b(0xF0)]),
        ("bytes_invalid_ff", [b(0x41), b(0xFF), b(0x42)]),
        ("bytes_overlong", [b(0xC0), b(0x80)]),
        ("bytes_surrogate", [b(0xED), b(0xA0), b(0x80)]),
        ("bytes_split_by_special", [b(0xE2), v("<bos>"), b(0x96), b(0x81)]),
        ("bytes_split_by_token", [b(0xE2), v("\u2581the"), b(0x96), b(0x81)]),
        ("bytes_two_runs", [b(0xC3), b(0xA9), v("\u2581the"), b(0xE6), b(0x97), b(0xA5)]),
        ("specials_only", [v("<bos>"), v("<eos>"), v("<pad>"), v("<unk>")]),
        ("custom_and_normalized_added", [v(CUSTOM), tok.token_to_id(NORMALIZED_ADDED), v("\u2581the")]),
        ("empty", []),
    ]
    out = []
    for name, ids in lists:
        assert all(i is not None for i in ids), name
        out.append({"name": name, "ids": ids,
                    "decode_skip_hex": hexs(tok.decode(ids, skip_special_tokens=True)),
                    "decode_keep_hex": hexs(tok.decode(ids, skip_special_tokens=False))})
    return out


def long_text(rng, target=64_000):
    pieces = [w for w in WORDS] + FRENCH + CJK + DEVANAGARI + THAI + EMOJI + PUNCT + [
        "\n", "\r\n", "\t", "  ", "\u00a0", "\ufeff", "<bos>", "<start_of_turn>", CUSTOM, "hello world",
        "鑫", "🦀", "\x07", "12345", "\u2581"]
    out, size = [], 0
    while size < target:
        w = rng.choice(pieces) if rng.random() < 0.3 else rng.choice(WORDS)
        out.append(w + (" " if rng.random() < 0.8 else ""))
        size += len(out[-1].encode("utf-8"))
    return "".join(out)


def malformed(base):
    """Small broken variants of a tiny valid tokenizer; the Swift loader must reject each."""
    def variant(edit):
        d = json.loads(json.dumps(base))
        edit(d)
        return d

    def added_collision(d):
        # Vocabulary ids 0..8 and 10 (10 entries): HF numbers a new added token 10, which the
        # vocabulary already uses.
        d["model"]["vocab"]["<0x0A>"] = 10
        d["added_tokens"].append({"id": 10, "content": "zz", "single_word": False, "lstrip": False,
                                  "rstrip": False, "normalized": False, "special": False})

    def set_model(key, value):
        return lambda d: d["model"].__setitem__(key, value)

    out = {
        "missing_model": variant(lambda d: d.pop("model")),
        "model_wordpiece": variant(set_model("type", "WordPiece")),
        "bad_merge_entry": variant(set_model("merges", ["a b c"])),
        "bad_merge_pair": variant(set_model("merges", [["a"]])),
        "merge_unknown_token": variant(set_model("merges", [["a", "zz"]])),
        "merge_result_missing": variant(set_model("merges", [["b", "a"]])),
        "dropout_set": variant(set_model("dropout", 0.1)),
        "continuing_subword_prefix": variant(set_model("continuing_subword_prefix", "##")),
        "end_of_word_suffix": variant(set_model("end_of_word_suffix", "</w>")),
        "pre_tokenizer_set": variant(lambda d: d.__setitem__("pre_tokenizer", {"type": "Whitespace"})),
        "normalizer_nfc": variant(lambda d: d.__setitem__("normalizer", {"type": "NFC"})),
        "unknown_top_level_key": variant(lambda d: d.__setitem__("surprise", 1)),
        "unknown_model_key": variant(set_model("surprise", 1)),
        "added_token_lstrip": variant(lambda d: d["added_tokens"][0].__setitem__("lstrip", True)),
        "added_token_id_mismatch": variant(lambda d: d["added_tokens"][0].__setitem__("id", 77)),
        "vocab_id_negative": variant(lambda d: d["model"]["vocab"].__setitem__("a", -1)),
        "truncation_set": variant(lambda d: d.__setitem__("truncation", {"max_length": 8, "strategy": "LongestFirst", "stride": 0, "direction": "Right"})),
        "decoder_strip": variant(lambda d: d.__setitem__("decoder", {"type": "Strip", "content": " ", "start": 1, "stop": 0})),
        "unk_not_in_vocab": variant(set_model("unk_token", "<nope>")),
        "added_token_id_collision": variant(added_collision),
    }
    texts = {name: json.dumps(d, ensure_ascii=False) for name, d in out.items()}
    valid = json.dumps(base, ensure_ascii=False)
    texts["truncated"] = valid[: len(valid) // 2]
    texts["lone_surrogate"] = valid.replace('"ab":', '"\\ud800":', 1)
    texts["not_json"] = "this is not json"
    texts["empty_file"] = ""
    texts["trailing_garbage"] = valid + " x"
    return valid, texts


def tiny_base():
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "a": 4, "b": 5, "ab": 6, "\u2581": 7,
             "<0x41>": 8, "<0x0A>": 9}
    doc = make_tokenizer(vocab, [("a", "b")])
    # make_tokenizer adds the Gemma specials; keep only those in this tiny vocab.
    doc["added_tokens"] = [t for t in doc["added_tokens"] if t["content"] in vocab]
    return doc


def main():
    os.makedirs(os.path.join(OUT, "malformed"), exist_ok=True)
    trained_vocab, trained_merges = train()
    vocab, merges = build(trained_vocab, trained_merges)

    pairs_doc = make_tokenizer(vocab, merges)
    legacy_doc = to_legacy(pairs_doc)
    write_json(os.path.join(OUT, "tokenizer-pairs.json"), pairs_doc)
    write_json(os.path.join(OUT, "tokenizer.json"), legacy_doc)

    # Variants where some byte tokens are missing, so <unk> (fused or not) appears.
    # Renumbered so ids stay contiguous: with a gap, HF would give the added "hello world" the
    # id of an existing entry (the Swift loader refuses such files).
    kept = [k for k, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if not (k.startswith("<0xE") and len(k) == 6)]
    unk_vocab = {k: i for i, k in enumerate(kept)}
    for fname, fuse in (("tokenizer-unk.json", True), ("tokenizer-unk-nofuse.json", False)):
        write_json(os.path.join(OUT, fname), to_legacy(make_tokenizer(unk_vocab, merges, fuse_unk=fuse)))

    load = lambda f: Tokenizer.from_file(os.path.join(OUT, f))
    main_toks = {"strings": load("tokenizer.json"), "pairs": load("tokenizer-pairs.json")}
    ref = main_toks["pairs"]
    hf_vocab = ref.get_vocab()
    for must in ["é", "e\u0301", "\ufeff\u2581the", "\u00a0\u00a0", "\r\n", "<0x00>", "<0xFF>"]:
        assert must in hf_vocab, must
    assert hf_vocab["é"] != hf_vocab["e\u0301"]
    for s in SPECIALS:
        assert hf_vocab[s] == SPECIALS.index(s)

    corpus = case_corpus()
    cases = {
        "vocab_size": max(hf_vocab.values()) + 1,
        "bos_id": vocab["<bos>"], "eos_id": vocab["<eos>"],
        "special_ids": [vocab[s] for s in SPECIALS],
        "pieces": [{"id": hf_vocab[p], "piece_hex": hexs(p)} for p in
                   ["é", "e\u0301", "\ufeff\u2581the", "\u00a0\u00a0", "\r\n", "<0x0A>", "\u2581the", CUSTOM]],
        "main": [encode_case(main_toks, n, t) for n, t in corpus],
        "decode_only": decode_only_cases(ref, vocab),
    }
    unk_names = {"cjk", "cjk_rare", "devanagari", "thai", "emoji", "emoji_zwj", "emoji_unknown", "absent_chars",
                 "mixed_all", "e_acute_nfd", "english"}
    unk_corpus = [(n, t) for n, t in corpus if n in unk_names] + [
        ("unk_then_bytes", "鑫🦀鑫a"), ("unk_runs", "鑫龘 齉鑫 x鑫"), ("unk_at_end", "ab鑫"),
        ("unk_around_special", "鑫<bos>鑫"), ("unk_bytes_unk", "鑫🦀🦀龘齉b"), ("unk_latin_bytes", "鑫Ω鑫")]
    cases["unk_fused"] = [encode_case({"x": load("tokenizer-unk.json")}, n, t) for n, t in unk_corpus]
    cases["unk_unfused"] = [encode_case({"x": load("tokenizer-unk-nofuse.json")}, n, t) for n, t in unk_corpus]
    write_json(os.path.join(OUT, "cases.json"), cases)

    text = long_text(random.Random(99))
    ids = ref.encode(text, add_special_tokens=False).ids
    assert main_toks["strings"].encode(text, add_special_tokens=False).ids == ids
    assert ref.encode(text).ids == [vocab["<bos>"]] + ids
    d_skip = ref.decode(ids, skip_special_tokens=True)
    d_keep = ref.decode(ids, skip_special_tokens=False)
    # Raw strings here (hex would double the file); the lengths guard against a JSON reader
    # that changes scalars.
    write_json(os.path.join(OUT, "long_case.json"), {
        "text": text, "utf8_length": len(text.encode("utf-8")), "scalar_count": len(text),
        "ids": ids,
        "decode_skip": d_skip, "decode_skip_utf8_length": len(d_skip.encode("utf-8")),
        "decode_keep": d_keep, "decode_keep_utf8_length": len(d_keep.encode("utf-8"))})

    valid, texts = malformed(tiny_base())
    with open(os.path.join(OUT, "minimal_valid.json"), "w", encoding="utf-8") as f:
        f.write(valid)
    hf_loads = {}
    for name, body in sorted(texts.items()):
        path = os.path.join(OUT, "malformed", name + ".json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        try:
            Tokenizer.from_file(path)
            hf_loads[name] = True
        except BaseException:  # pyo3's PanicException is not an Exception (HF panics on some)
            hf_loads[name] = False
    # For information: which variants HF itself accepts (the Swift loader rejects them all,
    # either because HF does too or because the loader does not implement that feature).
    write_json(os.path.join(OUT, "malformed-hf-loads.json"), hf_loads, indent=1)

    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print("vocab %d entries (max id + 1 = %d), %d merges; %d cases; fixtures %.0f kB in %s" % (
        len(vocab), cases["vocab_size"], len(merges), len(corpus), total / 1024, OUT))


if __name__ == "__main__":
    main()
