#!/usr/bin/env python3
"""Write independent reference values for the logit prisms on the Gemma 2 and Gemma 3 fixtures (sibling of
tools/make_prism_reference.py, which does Gemma 1; same JSON layout, every key kept, new keys added).

    python3 tools/make_prism_reference23.py    # from anywhere: paths are resolved from this file

Computed in float64 numpy from the checkpoint weights and from fp32 activations captured with forward hooks on
transformers' Gemma2ForCausalLM / Gemma3ForCausalLM (eager attention). Nothing here uses the project's Swift code.

Inputs:  Tests/Fixtures/tiny-gemma2/, Tests/Fixtures/tiny-gemma3/ (tools/make_gemma23_fixtures.py writes them)
Outputs: Tests/Fixtures/reference/prisms-tiny-gemma2.json, prisms-tiny-gemma3.json

Definitions (x = residual stream; p = the position read; eps = rms_norm_eps; rms(y) = sqrt(mean(y^2) + eps)):
  Gemma 2/3 block l:  a = input_layernorm(x) = (1 + w_in) * x * s_in,  s_in = 1/rms(x)     (blocks.l.ln1.scale)
        o_l = o_proj(z)  (z = per-head A v, blocks.l.attn.z; o_l is captured with a hook on o_proj)
        A_l = (1 + w_pa) * o_l * s_pa,  s_pa = 1/rms(o_l)      (post_attention_layernorm; blocks.l.ln1_post.scale)
        x_mid = x + A_l                                          (blocks.l.resid_mid; A_l is blocks.l.attn.out)
        m_l = down(gelu_tanh(gate) * up) of (1 + w_pre_ff) * x_mid * s_pre_ff,  s_pre_ff = 1/rms(x_mid)
                                                                 (pre_feedforward_layernorm; blocks.l.ln2.scale)
        M_l = (1 + w_pf) * m_l * s_pf,  s_pf = 1/rms(m_l)       (post_feedforward_layernorm; blocks.l.ln2_post.scale)
        x_post = x_mid + M_l.
  So x_final = embed + sum_l (A_l + M_l), embed = E[ids] * sqrt(d) (the scale cast to fp32 as transformers does).
  Frozen factors (stored per case under "frozen", at position p): s_f = 1/rms(x_final), and per layer s_in,
        s_pa, s_pre_ff, s_pf. The post-norms are linear in o_l / m_l once s_pa / s_pf are frozen.
  Readout: u_t = E[t] * (1 + w_norm) * s_f;  z_t = u_t . x_final(p) = "readout_logit" (pre-cap).
  residual prism: "embed" = u . embed_p, "attn"[l] = u . A_l(p), "mlp"[l] = u . M_l(p).
  attention prism: w = W_O^T (u * (1 + w_pa)), w_h = slice h; head term = s_pa * (z_h . w_h);
        head-source term = A_h[p, j] * s_pa * (v_g[j] . w_h), j = 0..p (zero outside the sliding window);
        A = self_attn's probabilities (after the attention soft-cap, the causal and sliding masks), v from v_proj.
  mlp prism: neuron term n = s_pf * post_n * (W_down[:, n] . (u * (1 + w_pf))), post = gelu_tanh(gate) * up.
  "logit" is the model's output logit: for Gemma 2 the capped one, c * tanh(z / c) (c = final_logit_softcapping),
        for Gemma 3 (no cap) equal to z. Gemma 2 targets also carry "softcap": {"cap", "z", "capped", "g"} with
        g = capped / z frozen, and "embed"/"attn"/"mlp"/"heads" = g times the pre-cap terms (they sum to capped).
  head path (layer l, head h, source j): r = (1 + w_in) * (W_V^g^T w_h) * s_pa(p); piece q of x_j (resid_pre of
        layer l at j) contributes A_h[p, j] s_in(j) (r . q). Pieces: embed_j, A_0(j), M_0(j), ..., A_{l-1}(j),
        M_{l-1}(j). total = the head-source term. The q/k norms (Gemma 3) and the attention soft-cap (Gemma 2) only
        shape A, which is frozen: they do not enter this (value) path.
  embedding map: the same frozen map applied to sqrt(d) * E[s] for each listed token s.
  neuron path (layer l, neuron n, position p): piece q of x_mid(p) contributes
        gelu_tanh(gate_n) c_n s_pre_ff(p) ((W_up[n] * (1 + w_pre_ff)) . q), c_n = s_pf * (W_down[:, n] . (u * (1 + w_pf))).
        Pieces: embed_p, A_0(p), M_0(p), ..., A_{l-1}(p), M_{l-1}(p), A_l(p). total = the neuron term.
  logit lens at blocks.{l}.resid_pre / resid_mid / resid_post: "frozen" = u_t . x_point (s_f of the final stream);
        "own" = E[t] . ((1 + w_norm) * x_point / rms(x_point)). Gemma 2 adds "frozen_capped" = c tanh(frozen / c)
        and "own_capped" = c tanh(own / c) (the cap applied to each lens value; at the last resid_post both equal
        the model's logit). The uncapped keys are pre-cap for Gemma 2.
  "closure" (per file): the largest absolute disagreement of each identity checked, e.g. the residual terms' sum
        against readout_logit, the capped terms' sum against the logit.
  case 0 also carries "activations" (TransformerLens-like names, fp32 values from transformers as float64):
        blocks.l.ln1.scale, ln1_post.scale, ln2.scale, ln2_post.scale [T] each, ln_final.scale [T];
        blocks.l.attn.q [H, hd] and blocks.l.attn.k [kvH, hd] at position p (after q_norm/k_norm and RoPE),
        blocks.l.attn.pattern row p [H, T].
  Sliding window (checked against transformers' probabilities): a sliding layer at position p attends to
        j with p - sliding_window < j <= p (sliding_window positions including p itself).

Path parameters (layer/head/source/neuron) are chosen from the first target of a case and reused for the others.
Deterministic: fixed seeds, one torch thread.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer
from transformers import Gemma2ForCausalLM, Gemma3ForCausalLM
from transformers.models.gemma2 import modeling_gemma2
from transformers.models.gemma3 import modeling_gemma3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_prism_reference import f64, gelu_tanh, inv_rms, pick_targets  # noqa: E402  (the Gemma 1 reference's helpers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")
REF_DIR = os.path.join(FIX, "reference")
GENERATOR = "tools/make_prism_reference23.py"
TEXT = "The capital of France is"
EMBED_MAP_TOKENS = [2, 10, 100, 500, 1500]
MODELS = [("tiny-gemma2", Gemma2ForCausalLM, modeling_gemma2), ("tiny-gemma3", Gemma3ForCausalLM, modeling_gemma3)]


def inv_rms_rows(x, eps):
    return 1.0 / np.sqrt(np.mean(x * x, axis=-1) + eps)


def softcap(x, c):
    return x if c is None else c * np.tanh(x / c)


class Capture:
    """Forward hooks (and a spy on the module's eager attention function, for q/k after norms and RoPE)
    collecting fp32 activations of one forward pass (batch 1)."""

    def __init__(self, model, modeling):
        self.model = model
        self.modeling = modeling
        self.acts = {}
        inner = model.model

        def save(name, fn):
            def hook(_mod, inp, out):
                self.acts[name] = fn(inp, out)
            return hook

        def save_pre(name):
            def hook(_mod, inp):
                self.acts[name] = f64(inp[0][0])
            return hook

        out0 = lambda i, o: f64((o[0] if isinstance(o, tuple) else o)[0])  # noqa: E731
        inner.embed_tokens.register_forward_hook(save("embed", out0))
        inner.norm.register_forward_pre_hook(save_pre("final_pre_norm"))
        inner.norm.register_forward_hook(save("final_normed", out0))
        for l, layer in enumerate(inner.layers):
            a, m = layer.self_attn, layer.mlp
            layer.register_forward_pre_hook(save_pre(f"resid_pre.{l}"))
            layer.register_forward_hook(save(f"resid_post.{l}", out0))
            layer.input_layernorm.register_forward_hook(save(f"ln1_out.{l}", out0))
            a.register_forward_hook(save(f"attn_probs.{l}", lambda i, o: f64(o[1][0])))
            a.v_proj.register_forward_hook(save(f"v.{l}", out0))
            a.o_proj.register_forward_pre_hook(save_pre(f"o_in.{l}"))
            a.o_proj.register_forward_hook(save(f"o_out.{l}", out0))
            layer.post_attention_layernorm.register_forward_hook(save(f"attn_out.{l}", out0))
            layer.pre_feedforward_layernorm.register_forward_pre_hook(save_pre(f"resid_mid.{l}"))
            layer.pre_feedforward_layernorm.register_forward_hook(save(f"ln2_out.{l}", out0))
            m.gate_proj.register_forward_hook(save(f"gate.{l}", out0))
            m.up_proj.register_forward_hook(save(f"up.{l}", out0))
            m.down_proj.register_forward_pre_hook(save_pre(f"down_in.{l}"))
            m.register_forward_hook(save(f"m_raw.{l}", out0))
            layer.post_feedforward_layernorm.register_forward_hook(save(f"mlp_out.{l}", out0))

    def run(self, ids):
        self.acts = {}
        orig = self.modeling.eager_attention_forward

        def spy(module, query, key, value, attention_mask, **kw):
            l = module.layer_idx
            self.acts[f"q.{l}"] = f64(query[0])  # [H, T, hd] after q_norm (Gemma 3) and RoPE
            self.acts[f"k.{l}"] = f64(key[0])    # [kvH, T, hd]
            self.acts[f"scaling.{l}"] = kw.get("scaling")
            self.acts[f"attn_softcap.{l}"] = kw.get("softcap")
            return orig(module, query, key, value, attention_mask, **kw)

        self.modeling.eager_attention_forward = spy
        try:
            with torch.no_grad():
                out = self.model(torch.tensor([ids], dtype=torch.long), output_attentions=True, use_cache=False)
        finally:
            self.modeling.eager_attention_forward = orig
        return out, self.acts


def load(name, cls):
    d = os.path.join(FIX, name)
    model = cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    assert model.config._attn_implementation == "eager"
    act = model.model.layers[0].mlp.act_fn
    probe = torch.linspace(-6, 6, 101)
    assert torch.allclose(act(probe), torch.nn.functional.gelu(probe, approximate="tanh"), atol=0, rtol=0), \
        f"{name}: transformers does not run tanh GELU ({act})"
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    return model, tok


class Weights:
    def __init__(self, model):
        cfg = model.config
        inner = model.model
        self.L = cfg.num_hidden_layers
        self.H = cfg.num_attention_heads
        self.kvH = cfg.num_key_value_heads
        self.hd = cfg.head_dim
        self.d = cfg.hidden_size
        self.ff = cfg.intermediate_size
        self.eps = cfg.rms_norm_eps
        self.cap = cfg.final_logit_softcapping
        self.attn_cap = cfg.attn_logit_softcapping
        self.scaling = cfg.query_pre_attn_scalar ** -0.5
        self.window = cfg.sliding_window
        self.layer_types = list(cfg.layer_types)
        self.E = f64(inner.embed_tokens.weight)
        # transformers multiplies the embedding by sqrt(d) cast to the weight dtype (fp32 here)
        self.embed_scale = float(np.float32(self.d ** 0.5))
        self.w_final = f64(inner.norm.weight)
        self.layers = []
        for layer in inner.layers:
            a, m = layer.self_attn, layer.mlp
            self.layers.append(dict(
                w_in=f64(layer.input_layernorm.weight),
                w_pa=f64(layer.post_attention_layernorm.weight),
                w_pre_ff=f64(layer.pre_feedforward_layernorm.weight),
                w_pf=f64(layer.post_feedforward_layernorm.weight),
                W_V=f64(a.v_proj.weight),      # [kvH*hd, d]
                W_O=f64(a.o_proj.weight),      # [d, H*hd]
                W_up=f64(m.up_proj.weight),    # [ff, d]
                W_down=f64(m.down_proj.weight),  # [d, ff]
            ))

    def group(self, h):
        return h // (self.H // self.kvH)

    def sliding(self, l):
        return self.layer_types[l] == "sliding_attention"


class Stats:
    def __init__(self):
        self.m = {}

    def add(self, key, value):
        self.m[key] = max(self.m.get(key, 0.0), float(np.max(np.abs(value))))


def check_forward(W, acts, ids, st):
    """Independent re-derivations of what transformers computed (norm outputs, patterns, z, post)."""
    T = len(ids)
    eps = W.eps
    embed = acts["embed"]
    st.add("check: embed hook vs E[ids]*sqrt(d)", embed - W.E[ids] * W.embed_scale)
    st.add("check: resid_pre.0 vs embed", acts["resid_pre.0"] - embed)
    for l in range(W.L):
        Wl = W.layers[l]
        x = acts[f"resid_pre.{l}"]
        s_in = inv_rms_rows(x, eps)
        st.add("check: input_layernorm output", acts[f"ln1_out.{l}"] - (1 + Wl["w_in"]) * x * s_in[:, None])
        # attention probabilities from q, k: scale, soft-cap, causal + sliding mask, softmax
        q, k = acts[f"q.{l}"], acts[f"k.{l}"]
        assert acts[f"scaling.{l}"] == W.scaling and acts[f"attn_softcap.{l}"] == W.attn_cap
        A = acts[f"attn_probs.{l}"]
        allowed = np.tril(np.ones((T, T), dtype=bool))
        if W.sliding(l):
            pi, ji = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
            allowed &= ji > pi - W.window
        for h in range(W.H):
            s = softcap(q[h] @ k[W.group(h)].T * W.scaling, W.attn_cap)
            s = np.where(allowed, s, -np.inf)
            e = np.exp(s - s.max(axis=1, keepdims=True))
            st.add("check: pattern from q, k (scale, soft-cap, masks) vs transformers", e / e.sum(1, keepdims=True) - A[h])
            st.add("check: attention outside causal/sliding mask", np.where(allowed, 0.0, A[h]))
        v = acts[f"v.{l}"].reshape(T, W.kvH, W.hd)
        z = np.stack([A[h] @ v[:, W.group(h), :] for h in range(W.H)], axis=1).reshape(T, W.H * W.hd)
        st.add("check: z (A v) vs o_proj input", z - acts[f"o_in.{l}"])
        o = acts[f"o_out.{l}"]
        st.add("check: o_proj output vs W_O z", o - z @ Wl["W_O"].T)
        A_l = (1 + Wl["w_pa"]) * o * inv_rms_rows(o, eps)[:, None]
        st.add("check: post_attention_layernorm output (A_l)", acts[f"attn_out.{l}"] - A_l)
        st.add("check: resid_mid = resid_pre + A_l", acts[f"resid_mid.{l}"] - x - acts[f"attn_out.{l}"])
        xm = acts[f"resid_mid.{l}"]
        st.add("check: pre_feedforward_layernorm output",
               acts[f"ln2_out.{l}"] - (1 + Wl["w_pre_ff"]) * xm * inv_rms_rows(xm, eps)[:, None])
        post = gelu_tanh(acts[f"gate.{l}"]) * acts[f"up.{l}"]
        st.add("check: gelu(gate)*up vs down_proj input", post - acts[f"down_in.{l}"])
        mr = acts[f"m_raw.{l}"]
        M_l = (1 + Wl["w_pf"]) * mr * inv_rms_rows(mr, eps)[:, None]
        st.add("check: post_feedforward_layernorm output (M_l)", acts[f"mlp_out.{l}"] - M_l)
        st.add("check: resid_post = resid_mid + M_l", acts[f"resid_post.{l}"] - xm - acts[f"mlp_out.{l}"])
        if l + 1 < W.L:
            st.add("check: resid_pre(l+1) = resid_post(l)", acts[f"resid_pre.{l + 1}"] - acts[f"resid_post.{l}"])
    xf = acts["final_pre_norm"]
    st.add("check: final norm output", acts["final_normed"] - (1 + W.w_final) * xf * inv_rms_rows(xf, eps)[:, None])


def frozen_factors(W, acts, p):
    eps = W.eps
    return {
        "s_f": inv_rms(acts["final_pre_norm"][p], eps),
        "s_in": [inv_rms(acts[f"resid_pre.{l}"][p], eps) for l in range(W.L)],
        "s_pa": [inv_rms(acts[f"o_out.{l}"][p], eps) for l in range(W.L)],
        "s_pre_ff": [inv_rms(acts[f"resid_mid.{l}"][p], eps) for l in range(W.L)],
        "s_pf": [inv_rms(acts[f"m_raw.{l}"][p], eps) for l in range(W.L)],
    }


def activations_at(W, acts, p):
    """A few stored activations under the runtime's names (case 0 only, to keep the file small)."""
    eps = W.eps
    rows = lambda x: [float(v) for v in x]  # noqa: E731
    out = {"ln_final.scale": rows(inv_rms_rows(acts["final_pre_norm"], eps))}
    for l in range(W.L):
        out[f"blocks.{l}.ln1.scale"] = rows(inv_rms_rows(acts[f"resid_pre.{l}"], eps))
        out[f"blocks.{l}.ln1_post.scale"] = rows(inv_rms_rows(acts[f"o_out.{l}"], eps))
        out[f"blocks.{l}.ln2.scale"] = rows(inv_rms_rows(acts[f"resid_mid.{l}"], eps))
        out[f"blocks.{l}.ln2_post.scale"] = rows(inv_rms_rows(acts[f"m_raw.{l}"], eps))
        out[f"blocks.{l}.attn.q"] = [rows(r) for r in acts[f"q.{l}"][:, p, :]]
        out[f"blocks.{l}.attn.k"] = [rows(r) for r in acts[f"k.{l}"][:, p, :]]
        out[f"blocks.{l}.attn.pattern"] = [rows(r) for r in acts[f"attn_probs.{l}"][:, p, :]]
    return out


def analyse_case(W, acts, logits, ids, p, targets, st, path_choice=None):
    """Return the per_target list; path parameters from the first target when path_choice is None."""
    L, H, hd, eps = W.L, W.H, W.hd, W.eps
    T = len(ids)
    x_p = acts["final_pre_norm"][p]
    s_f = inv_rms(x_p, eps)
    embed = acts["embed"]  # [T, d]
    fz = frozen_factors(W, acts, p)

    points = []
    for l in range(L):
        points += [(f"blocks.{l}.resid_pre", acts[f"resid_pre.{l}"][p]),
                   (f"blocks.{l}.resid_mid", acts[f"resid_mid.{l}"][p]),
                   (f"blocks.{l}.resid_post", acts[f"resid_post.{l}"][p])]

    out = []
    for t in targets:
        u = W.E[t] * (1.0 + W.w_final) * s_f
        logit = float(logits[p, t])
        readout = float(u @ x_p)
        e_term = float(embed[p] @ u)
        attn_terms = [float(acts[f"attn_out.{l}"][p] @ u) for l in range(L)]
        mlp_terms = [float(acts[f"mlp_out.{l}"][p] @ u) for l in range(L)]
        heads, head_sources, neurons = [], [], []
        hs_arr, neuron_arr = [], []
        for l in range(L):
            Wl = W.layers[l]
            s_pa, s_pf = fz["s_pa"][l], fz["s_pf"][l]
            A = acts[f"attn_probs.{l}"]
            v = acts[f"v.{l}"].reshape(T, W.kvH, hd)
            w = Wl["W_O"].T @ (u * (1.0 + Wl["w_pa"]))  # [H*hd]
            hs_l = np.zeros((H, p + 1))
            h_l = np.zeros(H)
            for h in range(H):
                w_h = w[h * hd:(h + 1) * hd]
                vg = v[: p + 1, W.group(h), :]
                hs_l[h] = A[h, p, : p + 1] * s_pa * (vg @ w_h)
                z_h = acts[f"o_in.{l}"][p, h * hd:(h + 1) * hd]
                h_l[h] = s_pa * (z_h @ w_h)
                st.add("head_sources sum vs head", hs_l[h].sum() - h_l[h])
            st.add("heads sum vs attn[l]", h_l.sum() - attn_terms[l])
            post = gelu_tanh(acts[f"gate.{l}"][p]) * acts[f"up.{l}"][p]
            c = s_pf * (Wl["W_down"].T @ (u * (1.0 + Wl["w_pf"])))
            n_l = post * c
            st.add("neurons sum vs mlp[l]", n_l.sum() - mlp_terms[l])
            heads.append([float(x) for x in h_l])
            head_sources.append([[float(x) for x in row] for row in hs_l])
            neurons.append([float(x) for x in n_l])
            hs_arr.append(hs_l)
            neuron_arr.append(n_l)

        total = e_term + sum(attn_terms) + sum(mlp_terms)
        st.add("residual (embed+attn+mlp) vs readout_logit", total - readout)
        st.add("residual (embed+attn+mlp) vs pre-cap model logit", total - float(softcap_inverse(logit, W.cap)))
        st.add("softcap(readout_logit) vs logit", softcap(readout, W.cap) - logit)
        all_heads = e_term + sum(sum(r) for r in heads) + sum(mlp_terms)
        st.add("embed+heads+mlp vs readout_logit", all_heads - readout)
        all_fine = e_term + sum(float(a.sum()) for a in hs_arr) + sum(float(n.sum()) for n in neuron_arr)
        st.add("embed+head_sources+neurons vs readout_logit", all_fine - readout)

        lens = {"frozen": {}, "own": {}}
        for name, xp in points:
            lens["frozen"][name] = float(u @ xp)
            lens["own"][name] = float(W.E[t] @ ((1.0 + W.w_final) * xp * inv_rms(xp, eps)))
        last = f"blocks.{L - 1}.resid_post"
        st.add("lens frozen at last resid_post vs readout_logit", lens["frozen"][last] - readout)
        st.add("lens own at last resid_post vs softcap-inverse(logit)",
               lens["own"][last] - softcap_inverse(logit, W.cap))
        if W.cap is not None:
            lens["frozen_capped"] = {k: float(softcap(v, W.cap)) for k, v in lens["frozen"].items()}
            lens["own_capped"] = {k: float(softcap(v, W.cap)) for k, v in lens["own"].items()}
            st.add("lens own_capped at last resid_post vs logit", lens["own_capped"][last] - logit)
            st.add("lens frozen_capped at last resid_post vs logit", lens["frozen_capped"][last] - logit)

        if path_choice is None:  # chosen from the first target
            lp = L - 1
            hh = int(np.argmax(np.abs(np.array(heads[lp]))))
            jj = int(np.argmax(np.abs(hs_arr[lp][hh])))
            nn_ = int(np.argmax(np.abs(neuron_arr[lp])))
            path_choice = dict(layer=lp, head=hh, source=jj, neuron=nn_)
        lp, hh, jj, nn_ = path_choice["layer"], path_choice["head"], path_choice["source"], path_choice["neuron"]
        Wl = W.layers[lp]
        s_pa, s_pf, s_pre_ff = fz["s_pa"][lp], fz["s_pf"][lp], fz["s_pre_ff"][lp]

        # head path (value path only)
        w = Wl["W_O"].T @ (u * (1.0 + Wl["w_pa"]))
        w_h = w[hh * hd:(hh + 1) * hd]
        g = W.group(hh)
        WVg = Wl["W_V"][g * hd:(g + 1) * hd, :]  # [hd, d]
        r = (1.0 + Wl["w_in"]) * (WVg.T @ w_h) * s_pa
        x_j = acts[f"resid_pre.{lp}"][jj]
        s1 = inv_rms(x_j, eps)
        a = acts[f"attn_probs.{lp}"][hh, p, jj]
        pieces_j = [embed[jj]]
        for l in range(lp):
            pieces_j += [acts[f"attn_out.{l}"][jj], acts[f"mlp_out.{l}"][jj]]
        st.add("check: head path pieces sum vs resid_pre", sum(pieces_j) - x_j)
        hp = [float(a * s1 * (r @ q)) for q in pieces_j]
        hp_total = float(hs_arr[lp][hh, jj])
        st.add("head_path pieces sum vs total", sum(hp) - hp_total)
        emap = [float(a * s1 * (r @ (W.embed_scale * W.E[s]))) for s in EMBED_MAP_TOKENS]

        # neuron path through pre_feedforward_layernorm's frozen scale
        x_mid = acts[f"resid_mid.{lp}"][p]
        st.add("check: s_pre_ff vs 1/rms(resid_mid)", s_pre_ff - inv_rms(x_mid, eps))
        c_n = float(s_pf * (Wl["W_down"][:, nn_] @ (u * (1.0 + Wl["w_pf"]))))
        g_n = float(gelu_tanh(acts[f"gate.{lp}"][p, nn_]))
        rn = Wl["W_up"][nn_] * (1.0 + Wl["w_pre_ff"])
        pieces_p = [embed[p]]
        for l in range(lp):
            pieces_p += [acts[f"attn_out.{l}"][p], acts[f"mlp_out.{l}"][p]]
        pieces_p.append(acts[f"attn_out.{lp}"][p])
        st.add("check: neuron path pieces sum vs resid_mid", sum(pieces_p) - x_mid)
        npieces = [float(g_n * c_n * s_pre_ff * (rn @ q)) for q in pieces_p]
        np_total = float(neuron_arr[lp][nn_])
        st.add("neuron_path pieces sum vs total", sum(npieces) - np_total)

        entry = {
            "id": int(t), "logit": logit, "readout_logit": readout, "precap_logit": readout,
            "embed": e_term, "attn": attn_terms, "mlp": mlp_terms,
            "heads": heads, "head_sources": head_sources, "neurons": neurons,
            "lens": lens,
            "head_path": {"layer": lp, "head": hh, "source": jj, "pieces": hp, "total": hp_total,
                          "s_in_source": s1, "s_pa": s_pa, "attention": float(a)},
            "embedding_map": {"layer": lp, "head": hh, "source": jj, "tokens": list(EMBED_MAP_TOKENS),
                              "values": emap},
            "neuron_path": {"layer": lp, "neuron": nn_, "pieces": npieces, "total": np_total,
                            "s_pre_ff": s_pre_ff, "s_pf": s_pf, "gate_act": g_n, "c": c_n},
        }
        if W.cap is not None:
            gf = float(softcap(readout, W.cap) / readout)
            capped = {
                "cap": W.cap, "z": readout, "capped": float(softcap(readout, W.cap)), "g": gf,
                "embed": gf * e_term, "attn": [gf * x for x in attn_terms], "mlp": [gf * x for x in mlp_terms],
                "heads": [[gf * x for x in row] for row in heads],
            }
            ctot = capped["embed"] + sum(capped["attn"]) + sum(capped["mlp"])
            st.add("capped residual terms sum vs logit", ctot - logit)
            st.add("capped heads+mlp+embed sum vs logit",
                   capped["embed"] + sum(sum(r) for r in capped["heads"]) + sum(capped["mlp"]) - logit)
            entry["softcap"] = capped
        out.append(entry)
    return out, fz


def softcap_inverse(y, c):
    return y if c is None else c * math.atanh(y / c)


def build(name, cls, modeling):
    model, tok = load(name, cls)
    W = Weights(model)
    cap = Capture(model, modeling)
    st = Stats()
    vocab = W.E.shape[0]
    assert max(EMBED_MAP_TOKENS) < vocab

    rng = np.random.default_rng(20240607)
    rand_ids = [2] + [int(x) for x in rng.integers(4, vocab, size=11)]
    rand_targets = [int(x) for x in rng.integers(4, vocab, size=8)]
    specs = [
        (tok.encode(TEXT).ids, None, [7, 1000, 42, 300], 3),  # position = last
        (rand_ids, 7, rand_targets, 4),
        ([2], 0, [1, 5, 6], 2),
    ]
    assert specs[0][0][0] == 2, "tokenizer did not add <bos>"

    cases = []
    for ci, (ids, p, fixed, n) in enumerate(specs):
        ids = [int(i) for i in ids]
        p = len(ids) - 1 if p is None else p
        out, acts = cap.run(ids)
        logits = f64(out.logits[0])
        check_forward(W, acts, ids, st)
        top1 = int(np.argmax(logits[p]))
        targets = pick_targets(top1, fixed, n)
        per_target, fz = analyse_case(W, acts, logits, ids, p, targets, st)
        case = {"ids": ids, "position": p, "targets": targets, "per_target": per_target, "frozen": fz}
        if ci == 0:
            case["activations"] = activations_at(W, acts, p)
        cases.append(case)

    doc = {"model": name, "generator": GENERATOR, "transformers_version": transformers.__version__,
           "final_logit_softcapping": W.cap, "attn_logit_softcapping": W.attn_cap,
           "layer_types": W.layer_types, "sliding_window": W.window,
           "cases": cases, "closure": dict(sorted(st.m.items()))}
    path = os.path.join(REF_DIR, f"prisms-{name}.json")
    text = json.dumps(doc, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.chmod(path, 0o644)
    size = os.path.getsize(path)
    print(f"== {name}: wrote {os.path.relpath(path, ROOT)} ({size} bytes)")
    for c in cases:
        pc = c["per_target"][0]
        extra = ""
        if "softcap" in pc:
            extra = f" z={pc['softcap']['z']:.4f} capped={pc['softcap']['capped']:.4f} g={pc['softcap']['g']:.4f}"
        print(f"   case T={len(c['ids'])} p={c['position']} targets={c['targets']} "
              f"head_path=(l{pc['head_path']['layer']} h{pc['head_path']['head']} j{pc['head_path']['source']}) "
              f"neuron_path=(l{pc['neuron_path']['layer']} n{pc['neuron_path']['neuron']}){extra}")
    for k, v in st.m.items():
        print(f"   max |{k}| = {v:.3e}")
    assert size < 300_000, f"{path} is {size} bytes"
    for k, v in st.m.items():
        assert v < 1e-4, (k, v)
    return path


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    for name, cls, modeling in MODELS:
        build(name, cls, modeling)


if __name__ == "__main__":
    sys.exit(main())
