#!/usr/bin/env python3
"""Write the small Gemma 2 and Gemma 3 checkpoints and the transformers reference logits that the Swift tests
compare against (sibling of tools/make_fixtures.py, which does Gemma 1).

    python3 tools/make_gemma23_fixtures.py     # from anywhere: paths are resolved from this file

Needs torch, transformers, safetensors, tokenizers (tools/requirements.txt). The Swift tests need no Python:
the outputs are committed.

Inputs:  Tests/Fixtures/tokenizer/tokenizer.json   (Gemma-shaped tokenizer; vocab_size = max id + 1)
Outputs (fp32, tied embeddings, one safetensors file each):
  Tests/Fixtures/tiny-gemma2/        Gemma2ForCausalLM; config.json as transformers 5 writes it (layer_types,
                                     rope_parameters, dtype, hidden_activation), model.safetensors, tokenizer.json.
                                     3 layers [sliding, full, sliding], sliding_window 4, query_pre_attn_scalar 20
                                     (head_dim 24), attn_logit_softcapping 2, final_logit_softcapping 5.
  Tests/Fixtures/tiny-gemma2-2024config/
                                     the same weights (model.safetensors and tokenizer.json are relative symlinks
                                     to ../tiny-gemma2/), config.json in the google/gemma-2-2b form: no layer_types,
                                     top-level rope_theta, torch_dtype, cache_implementation "hybrid", hidden_act
                                     and hidden_activation.
  Tests/Fixtures/tiny-gemma3/        Gemma3ForCausalLM (model_type gemma3_text); transformers 5 config: layer_types
                                     [sliding, sliding, full, sliding], rope_parameters per layer type (full:
                                     linear factor 2, theta 1e6; sliding: default, theta 1e4), no soft-capping.
  Tests/Fixtures/tiny-gemma3-2025config/
                                     same weights (symlinks); config in the google/gemma-3-1b form: no layer_types,
                                     sliding_window_pattern 3, rope_theta + rope_local_base_freq, rope_scaling
                                     {"rope_type": "linear", "factor": 2.0} (as gemma-3-4b's text_config has it),
                                     softcapping keys null, torch_dtype, cache_implementation "hybrid".
  Tests/Fixtures/tiny-gemma3-2025config-layertypes/
                                     same weights (symlinks); config in the google/gemma-3-270m form: layer_types
                                     and _sliding_window_pattern, rope_theta + rope_local_base_freq, rope_scaling.
  Tests/Fixtures/tiny-gemma3-mm/     Gemma3ForConditionalGeneration as transformers 5 saves it: the same text weights
                                     under "language_model.model.", a 1-layer 16-wide SigLIP tower under
                                     "vision_tower.", "multi_modal_projector.*"; config.json with text_config and
                                     vision_config. Its text-only logits equal tiny-gemma3's (asserted), so it has no
                                     reference file of its own.
  Tests/Fixtures/reference/tiny-gemma2.json, tiny-gemma3.json
      {"model", "transformers_version", "torch_version", "sequences": [{["text"], "ids", "logits"}],
       "generate": {...}}  (the layout of tiny-f32.json plus "generate")
      logits: one row per position, vocab_size floats, 7 significant digits; the model's output logits (after the
      final soft-cap for Gemma 2). Eager attention, fp32. Both sequences are longer than the sliding window.
      generate: greedy decoding with transformers' generate (use_cache=True, DynamicCache), eos disabled:
      {"prompt_ids", "new_ids", "chosen_logits" (per step, the output logit of the chosen token),
       "top2_margin" (per step, top-1 minus top-2 logit: how safe the greedy choice is),
       "max_abs_diff_vs_full_forward" (the cached logits against a full forward over the same ids, all steps,
       whole vocabulary)}.

Every published-form directory is loaded with from_pretrained and must give exactly the canonical directory's
logits (asserted). Deterministic: fixed seeds, one torch thread; rerunning rewrites identical files.
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
from transformers import (Gemma2Config, Gemma2ForCausalLM, Gemma3Config, Gemma3ForCausalLM,
                          Gemma3ForConditionalGeneration, Gemma3TextConfig, GenerationConfig)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import dump_reference, fmt, tokenizer_vocab_size  # noqa: E402  (same JSON layout)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")
TOKENIZER = os.path.join(FIX, "tokenizer", "tokenizer.json")
REF_DIR = os.path.join(FIX, "reference")
TEXT = "The capital of France is"  # 16 tokens with this tokenizer
GEN_PROMPT_LEN = 5  # the first 5 tokens of TEXT; 16 new tokens take the sequence to 21, past the window of 4
GEN_NEW = 16
SLIDING = "sliding_attention"
FULL = "full_attention"

COMMON = dict(
    hidden_size=32,
    intermediate_size=64,
    num_attention_heads=4,
    num_key_value_heads=2,  # grouped: 2 query heads per kv head
    head_dim=24,  # heads * head_dim = 96 != hidden_size 32
    query_pre_attn_scalar=20,  # attention scale 20**-0.5, not head_dim**-0.5
    sliding_window=4,  # shorter than every test sequence
    max_position_embeddings=128,
    rms_norm_eps=1e-6,
    hidden_activation="gelu_pytorch_tanh",
    tie_word_embeddings=True,
)
GEMMA2 = dict(COMMON, num_hidden_layers=3, rope_theta=10000.0, attn_logit_softcapping=2.0,
              final_logit_softcapping=5.0)
GEMMA3 = dict(COMMON, num_hidden_layers=4, layer_types=[SLIDING, SLIDING, FULL, SLIDING], sliding_window_pattern=3,
              rope_full=dict(rope_type="linear", factor=2.0, rope_theta=1_000_000.0),
              rope_sliding=dict(rope_type="default", rope_theta=10_000.0))


def gemma2_config(vocab_size):
    c = GEMMA2
    return Gemma2Config(
        vocab_size=vocab_size,
        **{k: c[k] for k in COMMON},
        num_hidden_layers=c["num_hidden_layers"],
        layer_types=[SLIDING if (i + 1) % 2 else FULL for i in range(c["num_hidden_layers"])],
        rope_parameters={"rope_type": "default", "rope_theta": c["rope_theta"]},
        attn_logit_softcapping=c["attn_logit_softcapping"],
        final_logit_softcapping=c["final_logit_softcapping"],
        attn_implementation="eager",
    )


def gemma3_config(vocab_size):
    c = GEMMA3
    return Gemma3TextConfig(
        vocab_size=vocab_size,
        **{k: c[k] for k in COMMON},
        num_hidden_layers=c["num_hidden_layers"],
        layer_types=list(c["layer_types"]),
        rope_parameters={FULL: dict(c["rope_full"]), SLIDING: dict(c["rope_sliding"])},
        final_logit_softcapping=None,
        attn_logit_softcapping=None,
        attn_implementation="eager",
    )


def randomize(model, seed, embed_std, qk_gain, qk_norm_mean=0.0):
    """Non-trivial weights (default init gives zero norm weights, near-uniform attention and tiny logits).

    - embeddings ~ N(0, embed_std): sets the logits' spread (and for Gemma 2 how far the final soft-cap bites)
    - q/k ~ N(0, qk_gain / sqrt(fan_in)): attention scores of several units (beyond the attention soft-cap)
    - v, o, gate, up, down ~ N(0, 1 / sqrt(fan_in))
    - every RMSNorm weight ~ N(0, 0.3) (all four per-layer norms and the final one): Gemma multiplies by (1 + w),
      so zeros would hide a missing "+1"; q_norm/k_norm ~ N(qk_norm_mean, 0.3) (a mean > 0 sharpens the patterns)
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name == "lm_head.weight":
                continue  # tied to model.embed_tokens.weight
            mean = 0.0
            if name.endswith("q_norm.weight") or name.endswith("k_norm.weight"):
                std, mean = 0.3, qk_norm_mean
            elif name.endswith("norm.weight"):
                std = 0.3
            elif name == "model.embed_tokens.weight":
                std = embed_std
            else:
                fan_in = p.shape[1]
                gain = qk_gain if (".q_proj." in name or ".k_proj." in name) else 1.0
                std = gain / fan_in**0.5
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * std + mean)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "embeddings not tied"


def sequences(vocab_size, tj, seed):
    """A 12-token id sequence (with byte-fallback and special tokens) and the tokenizer's encoding of TEXT."""
    from tokenizers import Tokenizer

    vocab = tj["model"]["vocab"]
    byte_ids = sorted(i for t, i in vocab.items() if t.startswith("<0x") and t.endswith(">") and len(t) == 6)
    special_ids = sorted(t["id"] for t in tj.get("added_tokens", []) if t.get("special"))
    rng = np.random.Generator(np.random.PCG64(seed))
    ids = [2] + [int(x) for x in rng.integers(0, vocab_size, 11)]
    pos = rng.choice(np.arange(1, 12), size=4, replace=False)
    picks = [int(rng.choice(byte_ids)), int(rng.choice(special_ids)), int(rng.choice(byte_ids)),
             int(rng.choice(special_ids))]
    for p, t in zip(pos, picks):
        ids[int(p)] = t
    enc = Tokenizer.from_file(TOKENIZER).encode(TEXT)
    assert enc.ids[0] == 2, enc.ids
    return [{"ids": ids}, {"text": TEXT, "ids": list(enc.ids)}]


def forward_logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False).logits[0].float()


def greedy_generate(model, prompt):
    """Greedy decoding with the KV cache; checked against a full forward pass at every step."""
    gc = GenerationConfig(do_sample=False, max_new_tokens=GEN_NEW, min_new_tokens=0, use_cache=True,
                          eos_token_id=None, pad_token_id=0, bos_token_id=2)
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt], dtype=torch.long), generation_config=gc,
                             output_logits=True, return_dict_in_generate=True)
    seq = [int(x) for x in out.sequences[0]]
    new = seq[len(prompt):]
    assert len(new) == GEN_NEW and len(out.logits) == GEN_NEW, (len(new), len(out.logits))
    step_logits = torch.stack([s[0].float() for s in out.logits])  # [GEN_NEW, vocab]
    full = forward_logits(model, seq)[len(prompt) - 1: len(seq) - 1]  # rows that predicted each new token
    diff = float((step_logits - full).abs().max())
    scale = float(full.abs().max())
    assert diff <= 1e-4 * scale, f"cached generate differs from a full forward: {diff} (max |logit| {scale})"
    chosen, margins = [], []
    for i, t in enumerate(new):
        row = step_logits[i]
        assert int(row.argmax()) == t, "greedy did not take the argmax"
        top2 = torch.topk(row, 2).values
        chosen.append(fmt(float(row[t])))
        margins.append(fmt(float(top2[0] - top2[1])))
    return {"prompt_ids": list(prompt), "new_ids": new, "chosen_logits": chosen, "top2_margin": margins,
            "max_abs_diff_vs_full_forward": diff}


def reference(model, seqs, name, prompt):
    rows_out, vals = [], []
    for s in seqs:
        logits = forward_logits(model, s["ids"])
        assert logits.shape == (len(s["ids"]), model.config.vocab_size)
        vals.append(logits.flatten())
        entry = dict(s)
        entry["logits"] = [[fmt(v) for v in row] for row in logits.tolist()]
        rows_out.append(entry)
    doc = {"model": name, "transformers_version": transformers.__version__, "torch_version": torch.__version__,
           "sequences": rows_out, "generate": greedy_generate(model, prompt)}
    return doc, torch.cat(vals)


def write_reference(path, doc):
    text = dump_reference(doc)  # model/versions/sequences exactly as tiny-f32.json
    gen = json.dumps(doc["generate"], separators=(",", ":"))
    assert text.endswith("  ]\n}\n")
    text = text[: -len("}\n")].rstrip("\n") + ",\n" + f'  "generate": {gen}\n' + "}\n"
    json.loads(text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o644)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.chmod(path, 0o644)


def clean_dir(d):
    if os.path.islink(d) or os.path.isfile(d):
        os.remove(d)
    elif os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)


def finalize_dir(d):
    gen = os.path.join(d, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    for n in os.listdir(d):
        p = os.path.join(d, n)
        if not os.path.islink(p):
            os.chmod(p, 0o644)


def check_weights_file(path, expect_prefix_free=("lm_head",)):
    with safe_open(path, "pt") as st:
        keys = list(st.keys())
        for k in keys:
            assert st.get_slice(k).get_dtype() == "F32", k
    for k in keys:
        assert not k.startswith(expect_prefix_free), f"{path}: {k} (embeddings should be tied)"
    return keys


def save_canonical(model, name):
    out = os.path.join(FIX, name)
    clean_dir(out)
    model.save_pretrained(out, safe_serialization=True)
    finalize_dir(out)
    shutil.copyfile(TOKENIZER, os.path.join(out, "tokenizer.json"))
    os.chmod(os.path.join(out, "tokenizer.json"), 0o644)
    files = sorted(os.listdir(out))
    assert files == ["config.json", "model.safetensors", "tokenizer.json"], files
    check_weights_file(os.path.join(out, "model.safetensors"))
    return out


def published_dir(name, canonical, config):
    """A directory holding only a config.json; weights and tokenizer are relative symlinks to the canonical one."""
    out = os.path.join(FIX, name)
    clean_dir(out)
    write_json(os.path.join(out, "config.json"), config)
    for f in ("model.safetensors", "tokenizer.json"):
        os.symlink(os.path.join("..", os.path.basename(canonical), f), os.path.join(out, f))
    return out


def load(cls, d):
    m = cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    m.eval()
    text_cfg = getattr(m.config, "text_config", m.config)
    assert text_cfg._attn_implementation == "eager", text_cfg._attn_implementation
    return m


def assert_same_logits(a, b, seqs, what):
    for s in seqs:
        la, lb = forward_logits(a, s["ids"]), forward_logits(b, s["ids"])
        d = float((la - lb).abs().max())
        assert d == 0.0, f"{what}: logits differ by {d}"


def assert_same_weights(loaded, original):
    sd_l, sd_o = loaded.state_dict(), original.state_dict()
    for k, v in sd_o.items():
        assert torch.equal(sd_l[k], v), f"weight {k} changed on reload"


def gemma2_2024_config(vocab_size):
    c = GEMMA2
    return {
        "architectures": ["Gemma2ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": c["attn_logit_softcapping"],
        "bos_token_id": 2,
        "cache_implementation": "hybrid",
        "eos_token_id": 1,
        "final_logit_softcapping": c["final_logit_softcapping"],
        "head_dim": c["head_dim"],
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": c["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": c["intermediate_size"],
        "max_position_embeddings": c["max_position_embeddings"],
        "model_type": "gemma2",
        "num_attention_heads": c["num_attention_heads"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_key_value_heads": c["num_key_value_heads"],
        "pad_token_id": 0,
        "query_pre_attn_scalar": c["query_pre_attn_scalar"],
        "rms_norm_eps": c["rms_norm_eps"],
        "rope_theta": c["rope_theta"],
        "sliding_window": c["sliding_window"],
        "torch_dtype": "float32",
        "transformers_version": "4.42.4",
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def gemma3_2025_config(vocab_size, layer_types_form):
    """gemma-3-1b form (sliding_window_pattern, no layer_types) or gemma-3-270m form (layer_types)."""
    c = GEMMA3
    cfg = {
        "architectures": ["Gemma3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None,
        "bos_token_id": 2,
        "eos_token_id": [1, 106] if not layer_types_form else 1,
        "final_logit_softcapping": None,
        "head_dim": c["head_dim"],
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": c["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": c["intermediate_size"],
        "max_position_embeddings": c["max_position_embeddings"],
        "model_type": "gemma3_text",
        "num_attention_heads": c["num_attention_heads"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_key_value_heads": c["num_key_value_heads"],
        "pad_token_id": 0,
        "query_pre_attn_scalar": c["query_pre_attn_scalar"],
        "rms_norm_eps": c["rms_norm_eps"],
        "rope_local_base_freq": c["rope_sliding"]["rope_theta"],
        "rope_scaling": {"factor": c["rope_full"]["factor"], "rope_type": c["rope_full"]["rope_type"]},
        "rope_theta": c["rope_full"]["rope_theta"],
        "sliding_window": c["sliding_window"],
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    if layer_types_form:
        cfg["_sliding_window_pattern"] = c["sliding_window_pattern"]
        cfg["layer_types"] = list(c["layer_types"])
        cfg["transformers_version"] = "4.55.0.dev0"
        cfg["use_bidirectional_attention"] = False
    else:
        cfg["cache_implementation"] = "hybrid"
        cfg["sliding_window_pattern"] = c["sliding_window_pattern"]
        cfg["transformers_version"] = "4.50.0.dev0"
    return dict(sorted(cfg.items()))


def check_gemma2(m):
    c = m.config
    assert c.layer_types == [SLIDING, FULL, SLIDING], c.layer_types
    assert c.rope_parameters == {"rope_type": "default", "rope_theta": GEMMA2["rope_theta"]}, c.rope_parameters
    assert c.query_pre_attn_scalar == GEMMA2["query_pre_attn_scalar"] and c.sliding_window == GEMMA2["sliding_window"]
    assert c.attn_logit_softcapping == GEMMA2["attn_logit_softcapping"]
    assert c.final_logit_softcapping == GEMMA2["final_logit_softcapping"]
    assert c.hidden_activation == "gelu_pytorch_tanh" and c._attn_implementation == "eager"
    assert [l.self_attn.sliding_window for l in m.model.layers] == [4, None, 4]


def check_gemma3(text_model, cfg):
    assert cfg.layer_types == GEMMA3["layer_types"], cfg.layer_types
    rp = cfg.rope_parameters
    assert rp[FULL] == GEMMA3["rope_full"] and rp[SLIDING] == GEMMA3["rope_sliding"], rp
    assert cfg.final_logit_softcapping is None and cfg.attn_logit_softcapping is None
    assert [l.self_attn.sliding_window for l in text_model.layers] == [4, 4, None, 4]
    d = GEMMA3["head_dim"]
    inv_full = 1.0 / (GEMMA3["rope_full"]["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float) / d)) / 2.0
    inv_sl = 1.0 / (GEMMA3["rope_sliding"]["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float) / d))
    assert torch.allclose(text_model.rotary_emb.full_attention_inv_freq, inv_full), "full-attention RoPE"
    assert torch.allclose(text_model.rotary_emb.sliding_attention_inv_freq, inv_sl), "sliding RoPE"


def build_gemma2(vocab_size, seqs):
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(gemma2_config(vocab_size)).float()
    randomize(model, seed=2024, embed_std=0.33, qk_gain=1.3)
    out = save_canonical(model, "tiny-gemma2")
    loaded = load(Gemma2ForCausalLM, out)
    check_gemma2(loaded)
    assert_same_weights(loaded, model)
    p = published_dir("tiny-gemma2-2024config", out, gemma2_2024_config(vocab_size))
    old = load(Gemma2ForCausalLM, p)
    check_gemma2(old)
    assert_same_logits(loaded, old, seqs, "tiny-gemma2-2024config")
    return loaded, [out, p]


def build_gemma3(vocab_size, seqs):
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(gemma3_config(vocab_size)).float()
    randomize(model, seed=2025, embed_std=0.25, qk_gain=1.0, qk_norm_mean=0.5)
    out = save_canonical(model, "tiny-gemma3")
    loaded = load(Gemma3ForCausalLM, out)
    check_gemma3(loaded.model, loaded.config)
    assert_same_weights(loaded, model)
    dirs = [out]
    for name, lt in (("tiny-gemma3-2025config", False), ("tiny-gemma3-2025config-layertypes", True)):
        p = published_dir(name, out, gemma3_2025_config(vocab_size, lt))
        old = load(Gemma3ForCausalLM, p)
        check_gemma3(old.model, old.config)
        assert_same_logits(loaded, old, seqs, name)
        dirs.append(p)
    dirs.append(build_gemma3_mm(loaded, seqs))
    return loaded, dirs


def build_gemma3_mm(text_lm, seqs):
    """The multimodal wrapper around the same text weights, with a minimal vision tower."""
    tc = text_lm.config.to_dict()
    vc = dict(model_type="siglip_vision_model", hidden_size=16, intermediate_size=32, num_hidden_layers=1,
              num_attention_heads=2, image_size=28, patch_size=14, vision_use_head=False)
    cfg = Gemma3Config(text_config=tc, vision_config=vc, mm_tokens_per_image=4, attn_implementation="eager")
    torch.manual_seed(0)
    mm = Gemma3ForConditionalGeneration(cfg).float()
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in sorted(mm.named_parameters()):
            if name.startswith("model.language_model.") or name == "lm_head.weight":
                continue
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * 0.05)
        src = text_lm.model.state_dict()
        for k, v in mm.model.language_model.state_dict().items():
            v.copy_(src[k])
    out = os.path.join(FIX, "tiny-gemma3-mm")
    clean_dir(out)
    mm.save_pretrained(out, safe_serialization=True)
    finalize_dir(out)
    os.symlink(os.path.join("..", "tiny-gemma3", "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    keys = check_weights_file(os.path.join(out, "model.safetensors"))
    assert any(k.startswith("language_model.model.layers.") for k in keys), keys[:5]
    loaded = load(Gemma3ForConditionalGeneration, out)
    check_gemma3(loaded.model.language_model, loaded.config.text_config)
    assert_same_logits(text_lm, loaded, seqs, "tiny-gemma3-mm")
    return out


def bite_stats(vals, cap):
    v = vals.double()
    s = {"max_abs": float(v.abs().max()), "std": float(v.std())}
    if cap is not None:
        # the output logits are capped: recover the pre-cap z = c * atanh(y / c)
        z = cap * torch.atanh((v / cap).clamp(-1 + 1e-12, 1 - 1e-12))
        s["precap_max_abs"] = float(z.abs().max())
        s["frac_precap_over_half_cap"] = float((z.abs() > cap / 2).double().mean())
        s["frac_precap_over_cap"] = float((z.abs() > cap).double().mean())
    return s


def attn_score_stats(model, ids, cap):
    """Fraction of pre-cap attention scores (causal, before the mask) beyond the attention soft-cap."""
    from transformers.models.gemma2 import modeling_gemma2 as mg

    seen = []
    orig = mg.eager_attention_forward

    def spy(module, query, key, value, attention_mask, scaling=None, softcap=None, **kw):
        k = mg.repeat_kv(key, module.num_key_value_groups)
        s = (query @ k.transpose(2, 3)) * scaling
        T = s.shape[-1]
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        seen.append(s[0][:, causal])
        return orig(module, query, key, value, attention_mask, scaling=scaling, softcap=softcap, **kw)

    mg.eager_attention_forward = spy
    try:
        forward_logits(model, ids)
    finally:
        mg.eager_attention_forward = orig
    s = torch.cat([x.flatten() for x in seen]).abs()
    return {"max_abs_score": float(s.max()), "frac_over_cap": float((s > cap).double().mean())}


def window_effect(cls, d, seqs):
    """How much the sliding window changes the logits: the same checkpoint with the window widened past every
    sequence. A fixture whose masking did not bite would not test it."""
    wide = cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager", sliding_window=1024)
    narrow = load(cls, d)
    d_max = max(float((forward_logits(wide, s["ids"]) - forward_logits(narrow, s["ids"])).abs().max()) for s in seqs)
    assert d_max > 0.1, f"{d}: the sliding window barely changes the logits ({d_max})"
    return d_max


def file_size(p):
    return os.lstat(p).st_size if os.path.islink(p) else os.path.getsize(p)


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    if not os.path.exists(TOKENIZER):
        raise SystemExit(f"missing {TOKENIZER}")
    vocab_size, tj = tokenizer_vocab_size(TOKENIZER)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}; tokenizer vocab_size {vocab_size}")
    os.makedirs(REF_DIR, exist_ok=True)
    seqs = sequences(vocab_size, tj, seed=23)
    prompt = seqs[1]["ids"][:GEN_PROMPT_LEN]
    summary, grand = [], 0
    for name, build, cap in (("tiny-gemma2", build_gemma2, GEMMA2["final_logit_softcapping"]),
                             ("tiny-gemma3", build_gemma3, None)):
        model, dirs = build(vocab_size, seqs)
        doc, vals = reference(model, seqs, name, prompt)
        ref_path = os.path.join(REF_DIR, f"{name}.json")
        write_reference(ref_path, doc)
        stats = bite_stats(vals, cap)
        stats["max_abs_logit_change_if_window_were_1024"] = window_effect(type(model), dirs[0], seqs)
        if name == "tiny-gemma2":
            stats["attention"] = attn_score_stats(model, seqs[1]["ids"], GEMMA2["attn_logit_softcapping"])
        summary.append((name, dirs, ref_path, stats, [len(s["ids"]) for s in seqs], doc["generate"]))

    print()
    for name, dirs, ref_path, stats, lengths, gen in summary:
        print(f"{name}: sequence lengths {lengths}; logits {json.dumps(stats)}")
        print(f"  generate: prompt {gen['prompt_ids']} -> {gen['new_ids']}; cached vs full forward max |diff| "
              f"{gen['max_abs_diff_vs_full_forward']:.3e}; min top-2 margin {min(gen['top2_margin']):.4f}")
        for d in dirs:
            for n in sorted(os.listdir(d)):
                p = os.path.join(d, n)
                link = f" -> {os.readlink(p)}" if os.path.islink(p) else ""
                sha = hashlib.sha256(open(p, "rb").read()).hexdigest()[:16]
                print(f"  {os.path.relpath(p, ROOT)}: {file_size(p):,} bytes{link}  sha256 {sha}")
                grand += file_size(p)
        print(f"  {os.path.relpath(ref_path, ROOT)}: {os.path.getsize(ref_path):,} bytes")
        grand += os.path.getsize(ref_path)
    print(f"total written under Tests/Fixtures: {grand:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
