#!/usr/bin/env python3
"""Reference tokenizations of gemma-3-270m's GGUF vocabulary for the Swift tokenizer tests.

    python3 tools/fetch_gemma3_270m.py          # once: models/gemma-3-270m-q4_k_m.gguf
    python3 tools/make_real_tokens_reference.py [--gguf PATH] [--out PATH] [--no-llama]

Reads Tests/Fixtures/tokenizer/corpus-multiscript.txt (one case per line, split on "\\n" only, so
U+2028, U+0085 and friends stay inside their line) and adds a few cases a line cannot hold (the whole
file, newline runs of length 1..40, CRLF, NUL, a chat turn). Writes
Tests/Fixtures/reference/gemma-3-270m-tokens.json with, per case:

  text, utf8_hex      the input (hex so the Swift test does not depend on a JSON library's Unicode)
  hf                  transformers' GGUF tokenizer, `tok(text).input_ids`: its default adds <bos> and
                      matches special-token text such as "<start_of_turn>" as the special token
  llama               llama.cpp (llama-cpp-python `Llama.tokenize(bytes, add_bos=True, special=False)`,
                      its defaults): <bos> added, control-token text tokenized as plain text
  llama_special       the same with special=True (how llama.cpp's own CLI reads a prompt); only
                      present where it differs from "llama"
  spm                 the `sentencepiece` library on a SentencePiece BPE model rebuilt from the GGUF's
                      tokens / scores / types (byte fallback, identity normalizer, no dummy prefix,
                      whitespace escaped to U+2581, the 30 whitespace-run user-defined pieces given
                      back their U+2581, <unk> typed UNKNOWN as SentencePiece requires); <bos> prepended
                      here because the library never adds it. Only present where it differs from "hf".
                      Rebuilt, not Google's tokenizer.model: the normalizer settings are Gemma 3's
                      documented ones, an assumption this file cannot check.

and a summary listing the cases where the engines disagree.
Exit status 1 with a one-line `error: ...` when an input or a package is missing.
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_GGUF = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
CORPUS = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer", "corpus-multiscript.txt")
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "reference", "gemma-3-270m-tokens.json")
EXPECTED_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


# Why the engines disagree, as measured on this corpus (checked by hand when the file was generated).
CAUSES = [
    "control-token text (<start_of_turn>, <bos>, <eos>, <pad>, <unk>, <mask>, <unusedN>): hf matches it as the "
    "special token; llama with special=False and spm tokenize it as plain text; llama_special agrees with hf",
    "whitespace runs longer than 31 spaces: hf gives 16 + (n - 16) spaces (transformers' GGUF conversion makes the "
    "30 space-run tokens ids 138..167 ordinary BPE pieces reached by score-ranked merges), llama and spm give 31 + "
    "(n - 31) (user-defined pieces matched greedily, longest first)",
    "a literal U+2581 in the input: hf and spm treat it like a space (the normalizer writes spaces as U+2581, so "
    "'\u2581 \u2581\u2581' becomes the 6-space token 143); llama matches its space-rewritten user-defined tokens "
    "on raw spaces only and splits the literal marks into single U+2581 tokens",
]


class RefError(Exception):
    """A failure reported as one line."""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def cases():
    """(source, text) pairs: each corpus line, then the multi-line cases."""
    try:
        with open(CORPUS, "rb") as f:
            corpus = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RefError(f"cannot read {CORPUS}: {e}") from e
    out = [(f"line {i + 1}", line) for i, line in enumerate(corpus.split("\n")[:-1])]
    out.append(("whole corpus", corpus))
    out += [(f"newline run {k}", "a" + "\n" * k + "b") for k in range(1, 41)]
    out += [
        ("empty", ""),
        ("crlf", "first line\r\nsecond line\r\n"),
        ("nul", "before\u0000after"),
        ("chat turn", "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n"),
        ("code block", "def f(x):\n    if x:\n        return 1\n\treturn 0\n\n\n# end\n"),
        ("mixed whitespace", " \n \t\n\n  \t  \n"),
        ("capital few-shot",
         "The capital city of Austria is Vienna.\nThe capital city of Portugal is Lisbon.\nThe capital city of France is"),
    ]
    return out


def load_hf(gguf_path):
    try:
        import transformers
        from transformers import AutoTokenizer
    except ImportError as e:
        raise RefError(f"{e.name} is not installed (pip install -r tools/requirements-real.txt)") from e
    d, f = os.path.split(os.path.abspath(gguf_path))
    return AutoTokenizer.from_pretrained(d, gguf_file=f), transformers.__version__


def load_spm(gguf_path, workdir):
    """A SentencePiece processor on a model rebuilt from the GGUF vocabulary (see the module docstring)."""
    try:
        import gguf
        import sentencepiece
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError as e:
        raise RefError(f"{e.name} is not installed (pip install -r tools/requirements-real.txt)") from e
    fields = gguf.GGUFReader(gguf_path).fields
    tokens = fields["tokenizer.ggml.tokens"].contents()
    scores = fields["tokenizer.ggml.scores"].contents()
    types = fields["tokenizer.ggml.token_type"].contents()
    unk = int(fields["tokenizer.ggml.unknown_token_id"].contents())
    model = pb.ModelProto()
    spec = model.trainer_spec
    spec.model_type = pb.TrainerSpec.BPE
    spec.vocab_size = len(tokens)
    spec.byte_fallback = True
    spec.unk_id = unk
    spec.bos_id = int(fields["tokenizer.ggml.bos_token_id"].contents())
    spec.eos_id = int(fields["tokenizer.ggml.eos_token_id"].contents())
    spec.pad_id = int(fields["tokenizer.ggml.padding_token_id"].contents())
    # SentencePiece finds the special ids by piece name; its defaults are <s>, </s>, ...
    spec.unk_piece, spec.bos_piece = tokens[spec.unk_id], tokens[spec.bos_id]
    spec.eos_piece, spec.pad_piece = tokens[spec.eos_id], tokens[spec.pad_id]
    norm = model.normalizer_spec
    norm.name = "identity"
    norm.add_dummy_prefix = False
    norm.remove_extra_whitespaces = False
    norm.escape_whitespaces = True
    for i, (piece, score, kind) in enumerate(zip(tokens, scores, types)):
        if kind == 4:  # USER_DEFINED: llama.cpp's converter wrote U+2581 as a plain space
            piece = piece.replace(" ", "\u2581")
        if i == unk:
            kind = 2  # UNKNOWN; the GGUF marks <unk> CONTROL
        p = model.pieces.add()
        p.piece, p.score, p.type = piece, score, kind
    path = os.path.join(workdir, "gemma3-from-gguf.model")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    sp = sentencepiece.SentencePieceProcessor(model_file=path)
    if sp.bos_id() != spec.bos_id or sp.get_piece_size() != len(tokens):
        raise RefError("the rebuilt SentencePiece model does not have the GGUF's <bos> or vocabulary size")
    return sp, sentencepiece.__version__


def load_llama(gguf_path):
    try:
        import llama_cpp
    except ImportError as e:
        raise RefError("llama-cpp-python is not installed (see tools/requirements-bench.txt) or pass --no-llama") from e
    return llama_cpp.Llama(model_path=gguf_path, vocab_only=True, verbose=False), llama_cpp.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", default=DEFAULT_GGUF)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--no-llama", action="store_true", help="skip llama.cpp")
    args = parser.parse_args()
    if not os.path.isfile(args.gguf):
        raise RefError(f"{args.gguf} not found (run tools/fetch_gemma3_270m.py)")
    digest = sha256_of(args.gguf)
    if digest != EXPECTED_SHA256:
        raise RefError(f"{args.gguf} has sha256 {digest}, expected {EXPECTED_SHA256}")
    t0 = time.time()
    tok, hf_version = load_hf(args.gguf)
    llm, llama_version = (None, None) if args.no_llama else load_llama(args.gguf)
    with tempfile.TemporaryDirectory() as workdir:
        sp, spm_version = load_spm(args.gguf, workdir)
    print(f"tokenizers loaded in {time.time() - t0:.1f} s", file=sys.stderr)
    records, differ_plain, differ_special, differ_spm = [], [], [], []
    for i, (source, text) in enumerate(cases()):
        rec = {"source": source, "text": text, "utf8_hex": text.encode("utf-8").hex(), "hf": tok(text).input_ids}
        if llm is not None:
            raw = text.encode("utf-8")
            plain = llm.tokenize(raw, add_bos=True, special=False)
            special = llm.tokenize(raw, add_bos=True, special=True)
            rec["llama"] = plain
            if special != plain:
                rec["llama_special"] = special
            if plain != rec["hf"]:
                differ_plain.append(i)
            if special != rec["hf"]:
                differ_special.append(i)
        spm_ids = [sp.bos_id()] + sp.encode(text)  # bos_id() is the GGUF's, checked in load_spm
        if spm_ids != rec["hf"]:
            rec["spm"] = spm_ids
            differ_spm.append(i)
        records.append(rec)
    result = {
        "model": "gemma-3-270m (llama.cpp Q4_K_M GGUF)",
        "gguf_sha256": digest,
        "generated_by": "tools/make_real_tokens_reference.py",
        "versions": {"transformers": hf_version, "llama_cpp_python": llama_version, "sentencepiece": spm_version},
        "corpus": os.path.relpath(CORPUS, ROOT),
        "summary": {
            "cases": len(records),
            "hf_vs_llama_differ": differ_plain if llm is not None else None,
            "hf_vs_llama_special_differ": differ_special if llm is not None else None,
            "hf_vs_spm_differ": differ_spm,
            "causes": CAUSES,
        },
        "cases": records,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, {len(records)} cases; "
          f"differ from hf: llama {len(differ_plain)}, llama special {len(differ_special)}, spm {len(differ_spm)}) "
          f"in {time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except RefError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
