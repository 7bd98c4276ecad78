#!/usr/bin/env python3
"""Reference logits of the real gemma-3-270m (llama.cpp's Q4_K_M GGUF) for the Swift tests.

    python3 tools/fetch_gemma3_270m.py          # once: models/gemma-3-270m-q4_k_m.gguf
    python3 tools/make_real_reference.py [--gguf PATH] [--out PATH] [--no-llama]

Writes Tests/Fixtures/reference/gemma-3-270m.json (small: no full logit rows). Two independent engines
read the same GGUF:

  "transformers": Hugging Face transformers' own GGUF loader (`from_pretrained(dir, gguf_file=...)`):
      it dequantizes every tensor to float32, subtracts the 1 llama.cpp's converter added to each norm
      weight and rebuilds the Gemma3TextConfig from the metadata plus its defaults (recorded under
      "config"). Eager attention, float32, one thread: the reference the f32 conversion must match.
  "llama_cpp": llama-cpp-python (the version tools/requirements-bench.txt pins) on the quantized
      weights as they are (its matmuls quantize activations too): the peer, not a tight reference.

For each prompt: the token ids (the transformers tokenizer, BOS added as the GGUF asks), and at a few
positions p (always the last one): the top-20 (id, logit) pairs, the logits of named tokens (" Paris",
" the", the prompt's expected answer) and statistics over the whole vocabulary (max, mean, std,
logsumexp, in float64 from the float32 row). llama.cpp is fed the same ids, so its numbers are
comparable position by position. Floats are written with 7 significant digits.

Needs: torch, transformers, accelerate (transformers' GGUF loader requires it), gguf, numpy;
llama-cpp-python unless --no-llama (see tools/requirements-real.txt).
Exit status 1 with a one-line `error: ...` when an input or a package is missing.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_GGUF = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
DEFAULT_OUT = os.path.join(ROOT, "Tests", "Fixtures", "reference", "gemma-3-270m.json")
EXPECTED_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
TOP_K = 20
NAMED = [" Paris", " the"]


def long_prompt():
    """~600 tokens: a code word at the start, filler, and a question about it at the end, so that the
    answer lies beyond the 512-token sliding window of the local layers (only the global layers 5, 11,
    17 can see it)."""
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    lines = ["Remember this code word: PELICAN."]
    for i in range(1, 41):
        spelled = " ".join(words[int(d)] for d in str(i))
        lines.append(f"Line {i}: the number {i} is spelled {spelled}.")
    lines.append("Question: what was the code word?\nAnswer: The code word was")
    return "\n".join(lines)


# (name, text, expected next-token text or None). Texts are fixed: the Swift tests read them from the JSON.
PROMPTS = [
    ("capital_fewshot",
     "The capital city of Austria is Vienna.\nThe capital city of Portugal is Lisbon.\nThe capital city of France is",
     " Paris"),
    ("capital_zeroshot", "The capital city of France is", " Paris"),
    ("addition_fewshot", "1+1=2\n2+2=4\n3+3=6\n4+4=", "8"),
    ("digits", "The first digits of pi are 3.14159265358979", "3"),
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) +", " fib"),
    ("long_sliding_window", long_prompt(), " PEL"),
]


class RefError(Exception):
    """A failure reported as one line."""


def fmt(x):
    """7 significant digits: enough for a 1e-4 relative comparison, a third of the bytes of repr."""
    return float(f"{float(x):.7g}")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def positions_for(n, name):
    """The last position, the one before, one in the middle and the second; for the long prompt also
    the positions around the sliding-window edge (511, 512)."""
    ps = {n - 1, n - 2, n // 2, 1}
    if name == "long_sliding_window":
        ps |= {511, 512}
    return sorted(p for p in ps if 0 <= p < n)


def row_summary(row, named_ids):
    """Top-k, named logits and whole-vocabulary statistics of one float32 logit row (numpy)."""
    import numpy as np
    r64 = row.astype(np.float64)
    top = np.argsort(-row, kind="stable")[:TOP_K]
    m = float(r64.max())
    lse = m + math.log(float(np.exp(r64 - m).sum()))
    return {
        "top_ids": [int(i) for i in top],
        "top_logits": [fmt(row[i]) for i in top],
        "named": {text: fmt(row[i]) for text, i in named_ids.items()},
        "max": fmt(m), "mean": fmt(r64.mean()), "std": fmt(r64.std()), "logsumexp": fmt(lse),
    }


def load_transformers(gguf_path):
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
        import accelerate  # noqa: F401  transformers refuses GGUF files without it
    except ImportError as e:
        raise RefError(f"{e.name} is not installed (pip install -r tools/requirements-real.txt)") from e
    torch.set_num_threads(1)
    d, f = os.path.split(os.path.abspath(gguf_path))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return tok, model, torch, transformers


def config_record(model):
    """The configuration transformers rebuilt from the GGUF metadata plus its Gemma3 defaults."""
    cfg = model.config.to_dict()
    for k in ("quantization_config", "_model_name_or_path", "transformers_version", "dtype", "use_cache"):
        cfg.pop(k, None)
    return cfg


def norm_offsets(model, gguf_path):
    """Largest |gguf_norm - 1 - transformers_norm| over all norm weights: shows (and checks) that the file
    stores 1 + w and transformers subtracts the 1."""
    import gguf
    import numpy as np
    reader = gguf.GGUFReader(gguf_path)
    params = dict(model.named_parameters())
    mapping = {"attn_norm": "input_layernorm", "post_attention_norm": "post_attention_layernorm",
               "ffn_norm": "pre_feedforward_layernorm", "post_ffw_norm": "post_feedforward_layernorm",
               "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm"}
    worst, count = 0.0, 0
    for t in reader.tensors:
        if not t.name.endswith("norm.weight"):
            continue
        if t.name == "output_norm.weight":
            hf = "model.norm.weight"
        else:
            _, layer, role, _ = t.name.split(".")
            hf = f"model.layers.{layer}.{mapping[role]}.weight"
        diff = np.asarray(t.data, np.float32) - 1.0 - params[hf].detach().numpy()
        worst = max(worst, float(np.abs(diff).max()))
        count += 1
    return {"norm_tensors": count, "max_abs_gguf_minus_1_minus_transformers": worst}


def run_transformers(tok, model, torch):
    named_ids = {}
    for text in NAMED + [p[2] for p in PROMPTS if p[2]]:
        ids = tok.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise RefError(f"named token {text!r} is {len(ids)} tokens {ids}, expected one")
        named_ids[text] = ids[0]
    out = []
    for name, text, expected in PROMPTS:
        ids = tok(text).input_ids
        positions = positions_for(len(ids), name)
        with torch.no_grad():
            logits = model(torch.tensor([ids]), logits_to_keep=torch.tensor(positions)).logits[0].numpy()
        rows = {str(p): row_summary(logits[i], {k: named_ids[k] for k in NAMED + ([expected] if expected else [])})
                for i, p in enumerate(positions)}
        out.append({"name": name, "text": text, "expected": expected, "ids": ids, "positions": rows})
        last = rows[str(len(ids) - 1)]
        print(f"  {name}: {len(ids)} tokens, top-1 {tok.decode([last['top_ids'][0]])!r}", file=sys.stderr)
    return out, named_ids


def run_llama(gguf_path, prompts, named_ids):
    """llama.cpp's logits at the same positions for the same ids (evaluated incrementally: one eval per
    segment up to each recorded position, reading the last row each time)."""
    try:
        import llama_cpp
        import numpy as np
    except ImportError as e:
        raise RefError("llama-cpp-python is not installed (see tools/requirements-bench.txt) or pass --no-llama") from e
    n_ctx = max(len(p["ids"]) for p in prompts) + 8
    llm = llama_cpp.Llama(model_path=gguf_path, n_ctx=n_ctx, n_batch=n_ctx, n_threads=2, logits_all=False,
                          verbose=False, seed=0)
    n_vocab = llm.n_vocab()
    out = []
    for p in prompts:
        ids = p["ids"]
        names = list(p["positions"][str(len(ids) - 1)]["named"].keys())
        llm.reset()
        rows, done = {}, 0
        for pos in sorted(int(k) for k in p["positions"]):
            llm.eval(ids[done:pos + 1])
            done = pos + 1
            # With logits_all off llama.cpp keeps one output row (the batch's last token); read it through
            # the C API (Llama.eval_logits is empty in this mode, and logits_all would hold n_ctx rows).
            row = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(n_vocab,)).copy()
            rows[str(pos)] = row_summary(row, {k: named_ids[k] for k in names})
        out.append({"name": p["name"], "positions": rows})
    return {"llama_cpp_python_version": llama_cpp.__version__, "n_threads": 2, "prompts": out}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", default=DEFAULT_GGUF)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--no-llama", action="store_true", help="skip llama.cpp (keeps only the transformers part)")
    args = parser.parse_args()
    if not os.path.isfile(args.gguf):
        raise RefError(f"{args.gguf} not found (run tools/fetch_gemma3_270m.py)")
    digest = sha256_of(args.gguf)
    if digest != EXPECTED_SHA256:
        raise RefError(f"{args.gguf} has sha256 {digest}, expected {EXPECTED_SHA256}")
    t0 = time.time()
    tok, model, torch, transformers = load_transformers(args.gguf)
    t1 = time.time()
    print(f"transformers loaded the GGUF in {t1 - t0:.1f} s", file=sys.stderr)
    prompts, named_ids = run_transformers(tok, model, torch)
    t2 = time.time()
    print(f"transformers forward passes {t2 - t1:.1f} s", file=sys.stderr)
    import gguf
    result = {
        "model": "gemma-3-270m (llama.cpp Q4_K_M GGUF)",
        "gguf_sha256": digest,
        "generated_by": "tools/make_real_reference.py",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "gguf": getattr(gguf, "__version__", "0.19.0")},
        "add_bos": True,
        "named_ids": named_ids,
        "top_k": TOP_K,
        "config": config_record(model),
        "norms": norm_offsets(model, args.gguf),
        "prompts": prompts,
    }
    del model
    if not args.no_llama:
        result["llama_cpp"] = run_llama(args.gguf, prompts, named_ids)
        print(f"llama.cpp {time.time() - t2:.1f} s", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes) in {time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except RefError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
