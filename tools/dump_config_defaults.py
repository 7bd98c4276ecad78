#!/usr/bin/env python3
"""Record transformers' configuration-class defaults for Gemma 1/2/3 and how a config.json is read into them.

    python3 tools/dump_config_defaults.py      # from anywhere: paths are resolved from this file

The Swift config decoder takes a key that is absent from config.json at the value transformers' class for that
model_type gives it; this file is the record it is checked against (tools/requirements.txt pins the version).

Output: Tests/Fixtures/reference/config-defaults.json
  {"transformers_version",
   "classes": {model_type: {"class", "fields": {declared dataclass field: default},
                            "instance": GemmaXConfig().to_dict() with no arguments (what transformers derives:
                            layer_types, rope_parameters, ...), "class_attributes": {default_theta, ...}}},
   "gemma3_multimodal": {"class", "fields", "text_config_class", "vision_model_type"},
   "derivations": [{"model_type", "config_json": the keys given (as from a config.json), "result": the
                    derived values of interest, "effective_rope": what the model's rotary module runs per layer
                    type (rope_type, inv_freq[1], attention_scaling), or "error": the one-line exception}]}
Derivations load through PreTrainedConfig.from_dict, as from_pretrained does with a config.json.
"""

import dataclasses
import json
import os
import sys

import transformers
from transformers import Gemma2Config, Gemma3Config, Gemma3TextConfig, GemmaConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "reference", "config-defaults.json")
CLASSES = {"gemma": GemmaConfig, "gemma2": Gemma2Config, "gemma3_text": Gemma3TextConfig}
S, F = "sliding_attention", "full_attention"

# Keys whose derived value matters to a reader of config.json.
INTEREST = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "head_dim", "hidden_act", "hidden_activation", "max_position_embeddings",
            "rms_norm_eps", "rope_parameters", "query_pre_attn_scalar", "sliding_window", "layer_types",
            "_sliding_window_pattern", "sliding_window_pattern", "final_logit_softcapping", "attn_logit_softcapping",
            "attention_bias", "tie_word_embeddings", "use_bidirectional_attention", "rope_theta",
            "rope_local_base_freq", "rope_scaling"]


def plain(v):
    """JSON-able copy (dtypes and other objects as strings)."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def declared_fields(cls):
    out = {}
    for f in dataclasses.fields(cls):
        if f.name.startswith("_") and f.name not in ("_sliding_window_pattern",):
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = plain(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = plain(f.default_factory())
    return out


def derived(cfg):
    out = {}
    for k in INTEREST:
        if k in ("rope_scaling",):
            continue  # a deprecated alias of rope_parameters in transformers 5
        if hasattr(cfg, k):
            out[k] = plain(getattr(cfg, k))
    return out


def effective_rope(model_type, cfg):
    """What the model's rotary module makes of the config: per layer type the RoPE type it runs, the
    inverse frequency of pair 1 (after any linear scaling) and the cos/sin scaling."""
    from transformers.models.gemma.modeling_gemma import GemmaRotaryEmbedding
    from transformers.models.gemma2.modeling_gemma2 import Gemma2RotaryEmbedding
    from transformers.models.gemma3.modeling_gemma3 import Gemma3RotaryEmbedding

    if model_type == "gemma3_text":
        r = Gemma3RotaryEmbedding(cfg)
        return {lt: {"rope_type": r.rope_type[lt], "inv_freq_1": float(getattr(r, f"{lt}_inv_freq")[1]),
                     "attention_scaling": float(getattr(r, f"{lt}_attention_scaling"))} for lt in r.layer_types}
    r = (GemmaRotaryEmbedding if model_type == "gemma" else Gemma2RotaryEmbedding)(cfg)
    return {"all": {"rope_type": r.rope_type, "inv_freq_1": float(r.inv_freq[1]),
                    "attention_scaling": float(r.attention_scaling)}}


def derive(model_type, cfg_json):
    cls = CLASSES[model_type]
    try:
        cfg = cls.from_dict(dict(json.loads(json.dumps(cfg_json))))
        return {"model_type": model_type, "config_json": cfg_json, "result": derived(cfg),
                "effective_rope": effective_rope(model_type, cfg)}
    except Exception as e:  # noqa: BLE001 - the refusal itself is the record
        return {"model_type": model_type, "config_json": cfg_json,
                "error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}


DERIVATIONS = [
    ("gemma", {}),
    ("gemma", {"rope_theta": 500.0}),
    ("gemma", {"hidden_act": "gelu"}),
    ("gemma", {"hidden_activation": "gelu_pytorch_tanh"}),
    ("gemma", {"rope_scaling": {"rope_type": "linear", "factor": 2.0}, "rope_theta": 500.0}),
    ("gemma2", {}),
    ("gemma2", {"num_hidden_layers": 5}),
    ("gemma2", {"num_hidden_layers": 3, "layer_types": [F, S, F]}),
    ("gemma2", {"rope_theta": 500.0}),
    ("gemma2", {"hidden_act": "gelu"}),
    ("gemma2", {"hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh"}),
    ("gemma2", {"hidden_activation": "gelu"}),
    ("gemma2", {"final_logit_softcapping": None, "attn_logit_softcapping": None}),
    ("gemma2", {"sliding_window": None}),
    ("gemma2", {"query_pre_attn_scalar": 144}),
    ("gemma2", {"rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}}),
    ("gemma2", {"cache_implementation": "hybrid", "torch_dtype": "float32"}),
    ("gemma3_text", {}),
    ("gemma3_text", {"num_hidden_layers": 7, "sliding_window_pattern": 3}),
    ("gemma3_text", {"num_hidden_layers": 7, "_sliding_window_pattern": 3}),
    ("gemma3_text", {"num_hidden_layers": 4, "layer_types": [S, S, F, S], "sliding_window_pattern": 2}),
    ("gemma3_text", {"num_hidden_layers": 4, "layer_types": [S, S, F, S], "_sliding_window_pattern": 6}),
    ("gemma3_text", {"rope_theta": 1_000_000.0, "rope_local_base_freq": 10_000.0, "rope_scaling": None}),
    ("gemma3_text", {"rope_theta": 1_000_000.0, "rope_local_base_freq": 10_000.0,
                     "rope_scaling": {"rope_type": "linear", "factor": 8.0}}),
    ("gemma3_text", {"rope_scaling": {"type": "linear", "factor": 8.0}}),
    ("gemma3_text", {"rope_theta": 500_000.0}),
    ("gemma3_text", {"rope_local_base_freq": 20_000.0}),
    ("gemma3_text", {"rope_parameters": {F: {"rope_type": "linear", "factor": 2.0, "rope_theta": 1_000_000.0},
                                         S: {"rope_type": "default", "rope_theta": 10_000.0}}}),
    ("gemma3_text", {"rope_parameters": {F: {"rope_type": "default"}, S: {"rope_type": "default"}}}),
    ("gemma3_text", {"rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0}}),
    ("gemma3_text", {"rope_parameters": {"rope_type": "default", "rope_theta": 500_000.0}}),
    ("gemma3_text", {"rope_theta": 1_000_000.0, "rope_local_base_freq": 10_000.0,
                     "rope_parameters": {"rope_type": "linear", "factor": 8.0}}),
    ("gemma3_text", {"final_logit_softcapping": 30.0, "attn_logit_softcapping": 50.0}),
    ("gemma3_text", {"use_bidirectional_attention": True, "sliding_window": 512}),
    ("gemma3_text", {"sliding_window": None}),
]


def main():
    transformers.logging.set_verbosity_error()
    doc = {"transformers_version": transformers.__version__, "generator": "tools/dump_config_defaults.py",
           "classes": {}}
    for mt, cls in CLASSES.items():
        inst = cls()
        doc["classes"][mt] = {
            "class": cls.__name__,
            "fields": declared_fields(cls),
            "instance": plain(dict(sorted(inst.to_dict().items()))),
            "class_attributes": {k: plain(getattr(cls, k)) for k in ("model_type", "default_theta")
                                 if hasattr(cls, k)},
        }
        assert inst.model_type == mt
    mm = Gemma3Config()
    doc["gemma3_multimodal"] = {
        "class": "Gemma3Config",
        "fields": declared_fields(Gemma3Config),
        "text_config_class": type(mm.text_config).__name__,
        "vision_model_type": mm.vision_config.model_type,
        "attribute_map": plain(Gemma3Config.attribute_map),
    }
    doc["derivations"] = [derive(mt, cj) for mt, cj in DERIVATIONS]
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    os.chmod(OUT, 0o644)
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT)} bytes)")
    for d in doc["derivations"]:
        r = d.get("result", {})
        show = {k: r[k] for k in ("layer_types", "rope_parameters", "hidden_activation", "hidden_act",
                                  "sliding_window", "final_logit_softcapping") if k in r}
        print(f"  {d['model_type']:12s} {json.dumps(d['config_json'])[:90]:90s} -> "
              f"{d.get('error') or json.dumps(show)[:260]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
