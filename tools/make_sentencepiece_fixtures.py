#!/usr/bin/env python3
"""Writes Tests/Fixtures/sentencepiece/: a small SentencePiece BPE vocabulary of Gemma's shape, as a
GGUF stores it, and how Hugging Face and SentencePiece tokenize a corpus with it.

Steps:
  1. Train a SentencePiece BPE model (byte fallback, digits split, no dummy prefix, identity
     normalization, Gemma's control and user-defined symbols) on generated multi-script text.
  2. Export its pieces / scores / token types the way llama.cpp's converter writes a Gemma GGUF
     (convert_hf_to_gguf.py, `_create_vocab_sentencepiece`): types from the SentencePiece model,
     then every token Hugging Face's `added_tokens_decoder` lists is re-typed: CONTROL (3) when it
     is special or looks special, else USER_DEFINED (4) with "▁" rewritten as " "; its score
     becomes -1000. (That rewrite is why Gemma GGUFs hold whitespace-run tokens as real spaces.)
  3. Write those arrays into a tokenizer-only GGUF (the `gguf` package's writer) and load it with
     `AutoTokenizer.from_pretrained(..., gguf_file=...)`: transformers' own GGUF path
     (integrations/gguf/gguf_tokenizer_mapping.py, `gemma_tokenizer` + `add_gguf_special_tokens`)
     is the reference. Its `tokenizer.json` serialization gives the expected merges and added
     tokens.
  4. Encode a corpus with that tokenizer (with and without BOS, and decode back) and with
     SentencePiece itself.

Files written (all small):
  vocabulary.json   the GGUF arrays: tokens (also as UTF-8 hex, which the tests read: Foundation's
                    JSON reader drops U+FEFF from strings), scores, token_type, bos/eos/unk/pad
                    ids, add_bos
  hf_reference.json what HF built: merges (pairs, rank order), added tokens, the vocabulary
                    entries it spells differently from the GGUF (id -> piece), post-processor ids
  cases.json        per corpus line: text (UTF-8 hex), HF ids with/without BOS, HF decodings,
                    SentencePiece ids

Usage: python3 tools/make_sentencepiece_fixtures.py [output_dir]
Needs: sentencepiece, gguf, transformers, tokenizers (tools/requirements-sentencepiece.txt).
"""
import json
import os
import random
import sys
import tempfile

import gguf
import sentencepiece as spm
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "Fixtures", "sentencepiece")

# Gemma's first ids: <pad> <eos> <bos> <unk> <mask>, then more control-like symbols.
CONTROL = ["<mask>", "[@BOS@]"]
# User-defined in the SentencePiece model (matched whole in text, as in Gemma's model); which of
# them Hugging Face marks special decides their GGUF type below.
USER_DEFINED = (["<start_of_turn>", "<end_of_turn>", "<unused0>", "<unused1>"]
                + ["\n", "\n\n", "\n\n\n", "\t", "\t\t"]
                + ["\u2581" * n for n in range(2, 9)]
                + ["<table>", "<td>", "</td>", "<h1>"])
SPECIAL_ADDED = {"<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"}
VOCAB_SIZE = 1400

WORDS = ("the of and to in is was for that with as on by at from his her they this which are be "
         "have had not but were all one when there been their can more if will would about into "
         "time than only other new some could these two may first then do any like my now over "
         "capital city France Paris Austria Vienna Portugal Lisbon model token prism logit hello world").split()
LATIN = ["café", "été", "élève", "théâtre", "résumé", "naïve", "Straße", "Müller", "über", "señor",
         "año", "coração", "São", "Kraków", "Dvořák", "Ærø", "fjörður"]
CYRILLIC = ["Привет", "мир", "столица", "Франции", "Париж", "язык", "модель", "это", "город"]
GREEK = ["Γειά", "σου", "κόσμε", "πρωτεύουσα", "Αθήνα", "γλώσσα"]
CJK = ["日本語", "中文", "東京", "学生", "大学", "日本", "人", "の", "は", "です", "北京", "首都"]
ARABIC = ["مرحبا", "العالم", "عاصمة", "فرنسا", "باريس", "اللغة"]
DEVANAGARI = ["नमस्ते", "दुनिया", "हिन्दी", "भारत", "राजधानी", "दिल्ली"]
EMOJI = ["👍", "👍🏽", "😀", "❤️", "👨\u200d👩\u200d👧", "🎉"]
CODE = ["def f(x):\n\treturn x + 1\n", "for (int i = 0; i < n; i++) {\n    a[i] = 0;\n}\n",
        "if x == 1:\n        print('hi')\n", "<table><td>1</td></table>", "<h1>Title</h1>\n\n"]
PUNCT = [".", ",", "!", "?", ":", ";", "(", ")", "'", "\"", "-"]


def training_lines(rng, count=6000):
    """Deterministic lines; SentencePiece trains on lines, so newlines never reach its pieces."""
    pools = [(0.55, WORDS), (0.09, LATIN), (0.07, CYRILLIC), (0.05, GREEK), (0.06, CJK), (0.04, ARABIC),
             (0.04, DEVANAGARI), (0.03, EMOJI), (0.04, None), (0.03, PUNCT)]
    out = []
    for i in range(count):
        words = []
        for _ in range(rng.randint(4, 14)):
            r = rng.random()
            for p, pool in pools:
                if r < p:
                    words.append(rng.choice(pool) if pool else str(rng.randint(0, 99999)))
                    break
                r -= p
            else:
                words.append(rng.choice(WORDS))
        line = " ".join(words)
        if i % 7 == 0:
            line = rng.choice(CODE).replace("\n", " ") + line
        out.append(line)
    return out


def train(workdir):
    path = os.path.join(workdir, "train.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(training_lines(random.Random(1234))) + "\n")
    prefix = os.path.join(workdir, "sp")
    spm.SentencePieceTrainer.train(
        input=path, model_prefix=prefix, model_type="bpe", vocab_size=VOCAB_SIZE,
        byte_fallback=True, split_digits=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", character_coverage=0.995, allow_whitespace_only_pieces=True,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", control_symbols=CONTROL, user_defined_symbols=USER_DEFINED,
        num_threads=1, minloglevel=2)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def looks_special(token):
    """llama.cpp's `does_token_look_special`."""
    return (token in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
            or (token.startswith("<|") and token.endswith("|>"))
            or (token.startswith("<unused") and token.endswith(">")))


def gguf_arrays(sp):
    """Pieces, scores and types as llama.cpp writes them for a Gemma model."""
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 5 if sp.is_unused(i)
                     else 6 if sp.is_byte(i) else 1)
    # HF's added_tokens_decoder for Gemma lists the special tokens and the user-defined symbols.
    for i, piece in enumerate(tokens):
        if piece in SPECIAL_ADDED or piece in CONTROL or piece in USER_DEFINED:
            if piece in SPECIAL_ADDED or looks_special(piece):
                types[i] = 3
            else:
                types[i] = 4
                tokens[i] = piece.replace("\u2581", " ")  # llama.cpp: "pre-normalize user-defined spaces"
            scores[i] = -1000.0
    return tokens, scores, types


def write_gguf(path, v):
    w = gguf.GGUFWriter(path, "gemma3")
    # A tokenizer-only file still needs the hyperparameters transformers reads for the config.
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(8)
    w.add_feed_forward_length(16)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_key_length(8)
    w.add_value_length(8)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(v["tokens"])
    w.add_token_scores(v["scores"])
    w.add_token_types(v["token_type"])
    w.add_bos_token_id(v["bos_token_id"])
    w.add_eos_token_id(v["eos_token_id"])
    w.add_unk_token_id(v["unknown_token_id"])
    w.add_pad_token_id(v["padding_token_id"])
    w.add_add_bos_token(v["add_bos_token"])
    w.add_add_eos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def corpus():
    c = [
        ("empty", ""),
        ("space", " "),
        ("two_spaces", "  "),
        ("spaces_5", "a     b"),
        ("spaces_8", "a        b"),
        ("spaces_9", "a         b"),
        ("spaces_12", "x            y"),
        ("spaces_20", "                    z"),
        ("leading_trailing", "  hello world  "),
        ("tabs_newlines", "\t\t\n\n \n\t x\n"),
        ("newline_runs", "a\n\n\n\nb\n\n\n\n\nc"),
        ("crlf", "line one\r\nline two\r\n"),
        ("code_python", "def f(x):\n\treturn x + 1\n\n\nclass A:\n    pass\n"),
        ("code_c", "for (int i = 0; i < n; i++) {\n\tif (a[i] == 0) { continue; }\n}\n"),
        ("code_indent", "if x:\n        y = 1\n            z = 2\n"),
        ("html", "<table><td>1</td><td>2</td></table>\n<h1>Title</h1>"),
        ("digits", "0123456789"),
        ("long_number", "3141592653589793238462643383279502884197"),
        ("numbers_in_text", "In 2024 there were 1,234,567 people and 3.14159 pies."),
        ("english", "The capital city of France is Paris."),
        ("fewshot", "The capital city of Austria is Vienna.\nThe capital city of Portugal is Lisbon.\n"
                    "The capital city of France is"),
        ("latin_accents", "café été élève théâtre résumé naïve Straße Müller über señor año"),
        ("latin_rare", "Dvořák Kraków Ærø fjörður São coração"),
        ("nfd", "cafe\u0301 e\u0301te\u0301"),
        ("cyrillic", "Привет, мир! Столица Франции — Париж."),
        ("greek", "Γειά σου κόσμε. Η πρωτεύουσα είναι η Αθήνα."),
        ("cjk", "日本語のテキストです。東京は日本の首都です。北京是中国的首都。"),
        ("cjk_rare", "鑫龘齉爨"),
        ("arabic", "مرحبا بالعالم. عاصمة فرنسا هي باريس."),
        ("devanagari", "नमस्ते दुनिया, भारत की राजधानी दिल्ली है।"),
        ("thai", "สวัสดีครับ ภาษาไทย"),
        ("hangul", "안녕하세요 세계"),
        ("emoji", "👍 👍🏽 😀 ❤️ 🎉"),
        ("emoji_zwj", "👨\u200d👩\u200d👧 family 🏳️\u200d🌈 👩🏾\u200d💻"),
        ("emoji_rare", "🦀🦖🫠"),
        ("control_chars", "a\x00b\x01c\x07d\x1b[0m\x7f"),
        ("math_symbols", "∑ ∞ ≠ ≤ \U0001D11E ☃"),
        ("nbsp_zwsp", "a\u00a0b\u200bc\u3000d\ufeffe"),
        ("special_bos", "<bos>hello"),
        ("special_eos_pad", "x<eos>y<pad>z<mask>"),
        ("special_turns", "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n"),
        ("unused_tokens", "<unused0><unused1>[@BOS@]"),
        ("unk_text", "<unk> and <unk>"),
        ("byte_token_text", "<0x41><0xE2>"),
        ("metaspace_literal", "\u2581\u2581a\u2581b"),
        ("partial_special", "<start_of_turn <end_of_turn> <start_of_tur"),
        ("mixed", "Paris (Париж, 巴黎, باريس, पेरिस) 🇫🇷 — 2,148,000 people.\n\tEnd."),
    ]
    rng = random.Random(99)
    pool = WORDS + LATIN + CYRILLIC + GREEK + CJK + ARABIC + DEVANAGARI + EMOJI + PUNCT
    for k in range(12):
        n = rng.randint(5, 30)
        parts = []
        for _ in range(n):
            parts.append(rng.choice(pool))
            parts.append(rng.choice([" ", " ", " ", "  ", "\n", "\t", "", "   "]))
        c.append(("random_%02d" % k, "".join(parts)))
    return c


def hexs(s):
    return s.encode("utf-8").hex()


def write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        sp = train(work)
        tokens, scores, types = gguf_arrays(sp)
        vocabulary = {
            "tokens": tokens, "tokens_hex": [hexs(t) for t in tokens], "scores": scores, "token_type": types,
            "bos_token_id": 2, "eos_token_id": 1, "unknown_token_id": 3, "padding_token_id": 0,
            "add_bos_token": True,
        }
        write_gguf(os.path.join(work, "t.gguf"), vocabulary)
        hf = AutoTokenizer.from_pretrained(work, gguf_file="t.gguf")
        doc = json.loads(hf.backend_tokenizer.to_str())

        hf_vocab = doc["model"]["vocab"]
        respelled = {str(i): p for p, i in hf_vocab.items() if tokens[i] != p}
        assert len(hf_vocab) == len(tokens), "HF's vocabulary has a different size"
        post = doc["post_processor"]
        reference = {
            "transformers": __import__("transformers").__version__,
            "merges": doc["model"]["merges"],
            "added_tokens": [{"id": t["id"], "content": t["content"], "special": t["special"],
                              "normalized": t["normalized"]} for t in doc["added_tokens"]],
            "respelled": respelled,
            "unk_token": doc["model"]["unk_token"],
            "bos_prefix": [i for s in post["single"] if "SpecialToken" in s
                           for i in post["special_tokens"][s["SpecialToken"]["id"]]["ids"]],
        }
        cases = []
        for name, text in corpus():
            with_bos = hf(text).input_ids
            plain = hf(text, add_special_tokens=False).input_ids
            cases.append({
                "name": name,
                "text_hex": hexs(text),
                "hf_ids_bos": with_bos,
                "hf_ids": plain,
                "hf_decode_skip_hex": hexs(hf.decode(with_bos, skip_special_tokens=True)),
                "hf_decode_keep_hex": hexs(hf.decode(with_bos, skip_special_tokens=False)),
                "sp_ids": sp.encode(text),
            })
    write_json(os.path.join(OUT, "vocabulary.json"), vocabulary)
    write_json(os.path.join(OUT, "hf_reference.json"), reference)
    write_json(os.path.join(OUT, "cases.json"), {"cases": cases})
    differ = [c["name"] for c in cases if c["hf_ids"] != c["sp_ids"]]
    print("wrote %s: %d pieces, %d merges, %d cases; HF and SentencePiece differ on %d: %s"
          % (OUT, len(tokens), len(reference["merges"]), len(cases), len(differ), ", ".join(differ)))


if __name__ == "__main__":
    main()
