#!/usr/bin/env python3
"""Compares transformers' GGUF tokenizer with SentencePiece on a real GGUF's vocabulary.

    python3 tools/check_gguf_tokenizer.py model.gguf [--out DIR]

Reads `tokenizer.ggml.*` with the `gguf` package, then tokenizes the corpus of
tools/make_sentencepiece_fixtures.py (plus a few Gemma-specific lines) with
  - transformers: `AutoTokenizer.from_pretrained(dir, gguf_file=...)` (its own GGUF path), and
  - SentencePiece: a BPE model proto rebuilt from the same arrays (pieces with llama.cpp's space
    rewrite undone, the file's scores and types, the unk id typed UNKNOWN as SentencePiece
    requires, identity normalization, no dummy prefix, byte fallback). The GGUF does not keep the
    original model's types (llama.cpp re-typed Hugging Face's added tokens), so control-typed
    tokens written as text are spelled out by this SentencePiece and matched by transformers.
and prints every line where they differ, with the pieces.

--out DIR writes DIR/vocabulary.json (the arrays) and DIR/cases.json (the corpus and both
tokenizations), in the format of Tests/Fixtures/sentencepiece, so that the Swift test
SentencePieceVocabularyTests.testRealVocabularyWhenProvided can check the project's tokenizer
against them: PRISM_SENTENCEPIECE_REFERENCE=DIR swift test --filter SentencePieceVocabularyTests
(tens of MB for Gemma 3's 262k pieces: not for committing).
Needs: gguf, sentencepiece, transformers (tools/requirements-sentencepiece.txt).
"""
import argparse
import json
import os
import sys
import time

import gguf
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_sentencepiece_fixtures import corpus, hexs, write_json  # noqa: E402


def read_arrays(path):
    reader = gguf.GGUFReader(path)

    def value(name, default=None):
        field = reader.fields.get(name)
        return field.contents() if field is not None else default

    if value("tokenizer.ggml.model") != "llama":
        sys.exit("error: %s: tokenizer.ggml.model is %r, not a SentencePiece ('llama') vocabulary"
                 % (path, value("tokenizer.ggml.model")))
    if "tokenizer.ggml.merges" in reader.fields:
        sys.exit("error: %s stores merges; this check is for merge-less SentencePiece vocabularies" % path)
    return {
        "architecture": value("general.architecture"),
        "tokens": value("tokenizer.ggml.tokens"),
        "scores": [float(s) for s in value("tokenizer.ggml.scores")],
        "token_type": [int(t) for t in value("tokenizer.ggml.token_type")],
        "bos_token_id": value("tokenizer.ggml.bos_token_id"),
        "eos_token_id": value("tokenizer.ggml.eos_token_id"),
        "unknown_token_id": value("tokenizer.ggml.unknown_token_id"),
        "padding_token_id": value("tokenizer.ggml.padding_token_id"),
        "add_bos_token": bool(value("tokenizer.ggml.add_bos_token", True)),
    }


def respell(token):
    """transformers' `gemma_tokenizer` rule (llama.cpp wrote "▁" as " " in whitespace runs)."""
    return "\u2581" * len(token) if " " in token and not token.strip() else token


def sentencepiece_from(v):
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.vocab_size = len(v["tokens"])
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id = v["unknown_token_id"]
    m.trainer_spec.bos_id = v["bos_token_id"] if v["bos_token_id"] is not None else -1
    m.trainer_spec.eos_id = v["eos_token_id"] if v["eos_token_id"] is not None else -1
    m.trainer_spec.pad_id = v["padding_token_id"] if v["padding_token_id"] is not None else -1
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = False
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    for i, (token, score, kind) in enumerate(zip(v["tokens"], v["scores"], v["token_type"])):
        p = m.pieces.add()
        p.piece = respell(token)
        p.score = score
        p.type = pb.ModelProto.SentencePiece.UNKNOWN if i == v["unknown_token_id"] else kind
    return spm.SentencePieceProcessor(model_proto=m.SerializeToString())


def gemma_lines():
    return [
        ("spaces_31", "a" + " " * 31 + "b"),
        ("spaces_32", "a" + " " * 32 + "b"),
        ("spaces_40", " " * 40 + "x"),
        ("newlines_35", "a" + "\n" * 35 + "b"),
        ("tabs_30", "\t" * 30 + "x"),
        ("image_tokens", "<start_of_image>[multimodal]<end_of_image>"),
        ("unused_last", "<unused6241><unused0>"),
        ("html_tags", "<div><span>x</span></div><li></li>"),
        ("capitals", "The capital city of Austria is Vienna.\nThe capital city of Portugal is Lisbon.\n"
                     "The capital city of France is"),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gguf")
    ap.add_argument("--out")
    args = ap.parse_args()
    if not os.path.isfile(args.gguf):
        sys.exit("error: %s: no such file" % args.gguf)
    t0 = time.time()
    v = read_arrays(args.gguf)
    t1 = time.time()
    hf = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(args.gguf)), gguf_file=os.path.basename(args.gguf))
    t2 = time.time()
    sp = sentencepiece_from(v)
    print("%s: %s, %d pieces; read %.1f s, transformers' tokenizer %.1f s"
          % (args.gguf, v["architecture"], len(v["tokens"]), t1 - t0, t2 - t1))
    vocab_size = len(v["tokens"])
    if len(hf) != vocab_size:
        print("note: transformers' tokenizer has %d entries, the file %d" % (len(hf), vocab_size))

    cases, differ = [], []
    for name, text in corpus() + gemma_lines():
        hf_ids = hf(text, add_special_tokens=False).input_ids
        sp_ids = sp.encode(text)
        with_bos = hf(text).input_ids
        cases.append({
            "name": name, "text_hex": hexs(text), "hf_ids_bos": with_bos, "hf_ids": hf_ids,
            "hf_decode_skip_hex": hexs(hf.decode(with_bos, skip_special_tokens=True)),
            "hf_decode_keep_hex": hexs(hf.decode(with_bos, skip_special_tokens=False)),
            "sp_ids": sp_ids,
        })
        if hf_ids != sp_ids:
            differ.append(name)
            print("differ %-18s HF %s\n%-25s SP %s" % (name, [sp.id_to_piece(i) if i < vocab_size else i for i in hf_ids],
                                                       "", [sp.id_to_piece(i) for i in sp_ids]))
    print("%d lines, transformers and SentencePiece differ on %d: %s" % (len(cases), len(differ), ", ".join(differ)))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        v["tokens_hex"] = [hexs(t) for t in v["tokens"]]
        arrays = {k: v[k] for k in ("tokens", "tokens_hex", "scores", "token_type", "bos_token_id", "eos_token_id",
                                    "unknown_token_id", "padding_token_id", "add_bos_token")}
        write_json(os.path.join(args.out, "vocabulary.json"), arrays)
        write_json(os.path.join(args.out, "cases.json"), {"cases": cases})
        print("wrote %s/vocabulary.json and cases.json" % args.out)


if __name__ == "__main__":
    main()
