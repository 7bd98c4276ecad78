#!/usr/bin/env python3
"""Write the small Gemma checkpoints and the transformers reference logits that the Swift tests compare against.

    python3 tools/make_fixtures.py            # from the repository root (or anywhere: paths are resolved)

Needs torch, transformers, safetensors, tokenizers (tools/requirements.txt). The Swift tests need no Python:
the outputs are committed.

Inputs:  Tests/Fixtures/tokenizer/tokenizer.json   (Gemma-shaped tokenizer; vocab_size = max id + 1)
Outputs: Tests/Fixtures/tiny-f32/    config.json (as this transformers version writes it: rope_parameters,
                                     dtype, hidden_activation), model.safetensors (fp32, one file, tied
                                     embeddings), tokenizer.json
         Tests/Fixtures/tiny-bf16/   config.json (2024 google/gemma-2b form: rope_theta at top level,
                                     "hidden_act": "gelu", "torch_dtype": "bfloat16"), two bf16 shards +
                                     model.safetensors.index.json, tokenizer.json
         Tests/Fixtures/reference/tiny-f32.json, tiny-bf16.json
             {"model", "transformers_version", "torch_version", "sequences": [{"ids", ["text"], "logits"}]}
             logits: one row per position, vocab_size floats each, 7 significant digits. For tiny-bf16 they
             are computed in fp32 over the saved bf16 values (checkpoint loaded with dtype=float32).

Deterministic: fixed seeds, one torch thread; rerunning rewrites identical files.
"""

import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from safetensors import safe_open
from transformers import GemmaConfig, GemmaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")
TOKENIZER = os.path.join(FIX, "tokenizer", "tokenizer.json")
REF_DIR = os.path.join(FIX, "reference")
TEXT = "The capital of France is"
SIG_DIGITS = 7  # fp32 has ~7.2 significant decimal digits; 7 keeps the reference files small

TINY_F32 = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=1,
    head_dim=24,  # heads * head_dim = 96 != hidden_size 64
    intermediate_size=128,
    max_position_embeddings=128,
    rms_norm_eps=1e-6,
    rope_theta=10000.0,
)
TINY_BF16 = dict(
    hidden_size=48,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,  # grouped: 2 query heads per kv head
    head_dim=16,
    intermediate_size=96,
    max_position_embeddings=128,
    rms_norm_eps=1e-6,
    rope_theta=500.0,
)


def tokenizer_vocab_size(path):
    with open(path, encoding="utf-8") as f:
        tj = json.load(f)
    ids = list(tj["model"]["vocab"].values()) + [t["id"] for t in tj.get("added_tokens", [])]
    return max(ids) + 1, tj


def make_config(shape, vocab_size):
    return GemmaConfig(
        vocab_size=vocab_size,
        hidden_size=shape["hidden_size"],
        intermediate_size=shape["intermediate_size"],
        num_hidden_layers=shape["num_hidden_layers"],
        num_attention_heads=shape["num_attention_heads"],
        num_key_value_heads=shape["num_key_value_heads"],
        head_dim=shape["head_dim"],
        max_position_embeddings=shape["max_position_embeddings"],
        rms_norm_eps=shape["rms_norm_eps"],
        rope_parameters={"rope_type": "default", "rope_theta": shape["rope_theta"]},
        hidden_act="gelu_pytorch_tanh",
        hidden_activation="gelu_pytorch_tanh",
        tie_word_embeddings=True,
        attn_implementation="eager",
    )


def randomize(model, seed, embed_std):
    """Non-trivial weights: default init gives near-uniform attention and tiny logits.

    - embeddings ~ N(0, embed_std), chosen so the logits spread over several units
    - q/k ~ N(0, 1.5 / sqrt(fan_in)): attention scores of a few units, so the patterns are far from uniform
    - v, o, gate, up, down ~ N(0, 1 / sqrt(fan_in)): every sublayer moves the residual stream noticeably
    - every RMSNorm weight ~ N(0, 0.5): Gemma multiplies by (1 + w), so zeros would hide a missing "+1"
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name == "lm_head.weight":
                continue  # tied to model.embed_tokens.weight
            if name.endswith("norm.weight"):
                std = 0.5
            elif name == "model.embed_tokens.weight":
                std = embed_std
            else:
                fan_in = p.shape[1]
                gain = 1.5 if (".q_proj." in name or ".k_proj." in name) else 1.0
                std = gain / fan_in**0.5
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * std)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "embeddings not tied"


def sequences(vocab_size, tj, seed):
    """4 id sequences (lengths 1, 5, 12) starting with <bos>, plus the tokenizer's encoding of TEXT."""
    from tokenizers import Tokenizer

    vocab = tj["model"]["vocab"]
    byte_ids = sorted(i for t, i in vocab.items() if t.startswith("<0x") and t.endswith(">") and len(t) == 6)
    special_ids = sorted(t["id"] for t in tj.get("added_tokens", []) if t.get("special"))
    rng = np.random.Generator(np.random.PCG64(seed))
    out = []
    for length in (1, 5, 12):
        ids = [2] + [int(x) for x in rng.integers(0, vocab_size, length - 1)]
        if length >= 5:
            # make sure byte-fallback tokens and special tokens (other than the leading <bos>) appear
            pos = rng.choice(np.arange(1, length), size=2 if length < 12 else 4, replace=False)
            picks = [int(rng.choice(byte_ids)), int(rng.choice(special_ids))]
            if length >= 12:
                picks += [int(rng.choice(byte_ids)), int(rng.choice(special_ids))]
            for p, t in zip(pos, picks):
                ids[int(p)] = t
        out.append({"ids": ids})
    tok = Tokenizer.from_file(TOKENIZER)
    enc = tok.encode(TEXT)
    assert enc.ids[0] == 2, enc.ids
    out.append({"text": TEXT, "ids": list(enc.ids)})
    return out


def fmt(x):
    return float(f"{x:.{SIG_DIGITS}g}")


def reference(model, seqs, name):
    model.eval()
    rows_out = []
    max_abs = 0.0
    all_vals = []
    with torch.no_grad():
        for s in seqs:
            ids = torch.tensor([s["ids"]], dtype=torch.long)
            logits = model(input_ids=ids).logits[0].float()
            assert logits.shape == (len(s["ids"]), model.config.vocab_size)
            max_abs = max(max_abs, float(logits.abs().max()))
            all_vals.append(logits.flatten())
            entry = dict(s)
            entry["logits"] = [[fmt(v) for v in row] for row in logits.tolist()]
            rows_out.append(entry)
    vals = torch.cat(all_vals)
    stats = {"max_abs": max_abs, "std": float(vals.std()),
             "mean_row_range": float(np.mean([max(r) - min(r) for e in rows_out for r in e["logits"]]))}
    doc = {
        "model": name,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "sequences": rows_out,
    }
    return doc, stats


def write_json(path, obj, compact=False):
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            # one line per logits row keeps the file diffable yet small
            f.write(dump_reference(obj))
        else:
            json.dump(obj, f, indent=2)
            f.write("\n")


def dump_reference(doc):
    lines = ["{"]
    for k in ("model", "transformers_version", "torch_version"):
        lines.append(f"  {json.dumps(k)}: {json.dumps(doc[k])},")
    lines.append('  "sequences": [')
    for si, s in enumerate(doc["sequences"]):
        lines.append("    {")
        if "text" in s:
            lines.append(f'      "text": {json.dumps(s["text"])},')
        lines.append(f'      "ids": {json.dumps(s["ids"])},')
        lines.append('      "logits": [')
        for ri, row in enumerate(s["logits"]):
            sep = "," if ri + 1 < len(s["logits"]) else ""
            lines.append("        " + json.dumps(row, separators=(",", ":")) + sep)
        lines.append("      ]")
        lines.append("    }" + ("," if si + 1 < len(doc["sequences"]) else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def clean_dir(d):
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)


def finalize_dir(d):
    gen = os.path.join(d, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    for n in os.listdir(d):
        os.chmod(os.path.join(d, n), 0o644)


def check_no_lm_head(files):
    for f in files:
        with safe_open(f, "pt") as st:
            keys = list(st.keys())
        if any(k.startswith("lm_head") for k in keys):
            raise SystemExit(f"{f} contains lm_head weights (embeddings should be tied)")


def build_f32(vocab_size, tj):
    out = os.path.join(FIX, "tiny-f32")
    clean_dir(out)
    torch.manual_seed(0)
    cfg = make_config(TINY_F32, vocab_size)
    model = GemmaForCausalLM(cfg).float()
    randomize(model, seed=1234, embed_std=0.27)
    model.save_pretrained(out, safe_serialization=True)
    finalize_dir(out)
    shutil.copyfile(TOKENIZER, os.path.join(out, "tokenizer.json"))
    files = sorted(os.listdir(out))
    assert files == ["config.json", "model.safetensors", "tokenizer.json"], files
    check_no_lm_head([os.path.join(out, "model.safetensors")])
    with safe_open(os.path.join(out, "model.safetensors"), "pt") as st:
        for k in st.keys():
            assert st.get_slice(k).get_dtype() == "F32", k

    # Reference from the files as saved.
    loaded = GemmaForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
    check_loaded(loaded, model, TINY_F32)
    return out, loaded


def build_bf16(vocab_size, tj):
    out = os.path.join(FIX, "tiny-bf16")
    clean_dir(out)
    torch.manual_seed(0)
    cfg = make_config(TINY_BF16, vocab_size)
    model = GemmaForCausalLM(cfg).float()
    randomize(model, seed=5678, embed_std=0.33)
    model = model.to(torch.bfloat16)
    total_bytes = sum(p.numel() * 2 for n, p in model.state_dict().items() if n != "lm_head.weight")
    # A shard limit a bit above half the bytes gives exactly two shards.
    model.save_pretrained(out, safe_serialization=True, max_shard_size=int(total_bytes * 0.55))
    finalize_dir(out)
    names = sorted(os.listdir(out))
    shards = [n for n in names if n.endswith(".safetensors")]
    if shards != ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]:
        raise SystemExit(f"expected exactly two shards, got {shards}")
    check_no_lm_head([os.path.join(out, s) for s in shards])

    # Index in the 2024 form: {"metadata": {"total_size": N}, "weight_map": {name: shard}}, checked.
    idx_path = os.path.join(out, "model.safetensors.index.json")
    with open(idx_path) as f:
        idx = json.load(f)
    weight_map = {}
    data_bytes = 0
    for s in shards:
        with safe_open(os.path.join(out, s), "pt") as st:
            for k in st.keys():
                sl = st.get_slice(k)
                assert sl.get_dtype() == "BF16", (k, sl.get_dtype())
                weight_map[k] = s
                data_bytes += int(np.prod(sl.get_shape())) * 2
    assert weight_map == idx["weight_map"], "index weight_map does not match the shards"
    assert int(idx["metadata"]["total_size"]) == data_bytes, (idx["metadata"], data_bytes)
    write_json(idx_path, {"metadata": {"total_size": data_bytes}, "weight_map": dict(sorted(weight_map.items()))})

    # config.json rewritten in the 2024 google/gemma-2b form.
    c = TINY_BF16
    cfg2024 = {
        "architectures": ["GemmaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "head_dim": c["head_dim"],
        "hidden_act": "gelu",
        "hidden_size": c["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": c["intermediate_size"],
        "max_position_embeddings": c["max_position_embeddings"],
        "model_type": "gemma",
        "num_attention_heads": c["num_attention_heads"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_key_value_heads": c["num_key_value_heads"],
        "pad_token_id": 0,
        "rms_norm_eps": c["rms_norm_eps"],
        "rope_theta": c["rope_theta"],
        "torch_dtype": "bfloat16",
        "transformers_version": "4.38.0.dev0",
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    write_json(os.path.join(out, "config.json"), cfg2024)
    shutil.copyfile(TOKENIZER, os.path.join(out, "tokenizer.json"))
    finalize_dir(out)

    # Reference: transformers in fp32 over the saved bf16 values, reading the 2024 config.
    loaded = GemmaForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager")
    check_loaded(loaded, model.float(), TINY_BF16)
    return out, loaded


def check_loaded(loaded, original, shape):
    """The reloaded model must have the intended config and exactly the saved weights."""
    c = loaded.config
    assert c.hidden_size == shape["hidden_size"] and c.head_dim == shape["head_dim"]
    assert c.num_key_value_heads == shape["num_key_value_heads"]
    assert c.rope_parameters["rope_theta"] == shape["rope_theta"], c.rope_parameters
    assert c.rope_parameters.get("rope_type", "default") == "default", c.rope_parameters
    assert c.hidden_act == "gelu_pytorch_tanh", c.hidden_act
    assert c._attn_implementation == "eager", c._attn_implementation
    inv = loaded.model.rotary_emb.inv_freq
    d = shape["head_dim"]
    expect = 1.0 / (shape["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float) / d))
    assert torch.allclose(inv, expect), "rope frequencies"
    assert loaded.lm_head.weight.data_ptr() == loaded.model.embed_tokens.weight.data_ptr(), "not tied"
    sd_l, sd_o = loaded.state_dict(), original.state_dict()
    for k, v in sd_o.items():
        assert torch.equal(sd_l[k].float(), v.float()), f"weight {k} changed on reload"
    assert loaded.dtype == torch.float32


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if not os.path.exists(TOKENIZER):
        raise SystemExit(f"missing {TOKENIZER}")
    vocab_size, tj = tokenizer_vocab_size(TOKENIZER)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}; tokenizer vocab_size {vocab_size}")
    os.makedirs(REF_DIR, exist_ok=True)
    summary = []
    for name, build, seed in (("tiny-f32", build_f32, 11), ("tiny-bf16", build_bf16, 22)):
        out, model = build(vocab_size, tj)
        seqs = sequences(vocab_size, tj, seed)
        doc, stats = reference(model, seqs, name)
        ref_path = os.path.join(REF_DIR, f"{name}.json")
        write_json(ref_path, doc, compact=True)
        os.chmod(ref_path, 0o644)
        summary.append((name, out, ref_path, stats, [len(s["ids"]) for s in seqs]))

    print()
    grand = 0
    for name, out, ref_path, stats, lengths in summary:
        print(f"{name}: sequence lengths {lengths}; logits max|.| {stats['max_abs']:.3f}, std {stats['std']:.3f}, "
              f"mean per-row range {stats['mean_row_range']:.3f}")
        for n in sorted(os.listdir(out)):
            p = os.path.join(out, n)
            print(f"  {os.path.relpath(p, ROOT)}: {os.path.getsize(p):,} bytes  sha256 "
                  f"{hashlib.sha256(open(p, 'rb').read()).hexdigest()[:16]}")
        print(f"  {os.path.relpath(ref_path, ROOT)}: {os.path.getsize(ref_path):,} bytes")
        grand += dir_size(out) + os.path.getsize(ref_path)
    print(f"total written under Tests/Fixtures: {grand:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
