#!/usr/bin/env python3
"""Write independent reference values for the logit prisms (exact decompositions of a logit) that the Swift
tests compare against.

    python3 tools/make_prism_reference.py      # from anywhere: paths are resolved from this file

Computed in float64 numpy from the checkpoint weights and from fp32 activations captured with forward hooks
on the Hugging Face `transformers` GemmaForCausalLM (eager attention). Nothing here uses the project's Swift
code.

Inputs:  Tests/Fixtures/tiny-f32/, Tests/Fixtures/tiny-bf16/ (config.json, safetensors, tokenizer.json).
         tiny-bf16 is loaded with dtype=float32 (bf16 weights upcast exactly).
Outputs: Tests/Fixtures/reference/prisms-tiny-f32.json, prisms-tiny-bf16.json

Definitions (x = residual stream, u_t = frozen final readout of target t at position p):
  s_f = 1/sqrt(mean(x_p^2)+eps), x_p = final residual stream BEFORE model.norm (captured with a forward
        pre-hook on model.model.norm), u_t = E[t] * (1 + w_norm) * s_f; readout_logit = u_t . x_p.
  residual prism: embed_p . u, attn_out_l(p) . u, mlp_out_l(p) . u (hooks on embed_tokens, self_attn output[0],
        mlp output). embed = E[ids] * sqrt(d) as transformers computes it (scale cast to fp32).
  attention prism: w = W_O^T u, w_h = slice h; head term = (sum_j A_h[p,j] v_g[j]) . w_h; head-source term =
        A_h[p,j] (v_g[j] . w_h), j = 0..p; A from self_attn output[1], v from a hook on v_proj.
  mlp prism: neuron term n = gelu_tanh(gate_n(p)) up_n(p) (W_down[:, n] . u).
  head path (layer l, head h, source j): r = (1 + w_in) * (W_V^g^T w_h); piece q of x_j (resid_pre of layer l
        at j) contributes A_h[p,j] s1_j (r . q), s1_j = 1/sqrt(mean(x_j^2)+eps). Pieces: embed_j, attn_0(j),
        mlp_0(j), ..., attn_{l-1}(j), mlp_{l-1}(j). total = the head-source term.
  embedding map: the same frozen map applied to sqrt(d) * E[s] for each listed token s.
  neuron path (layer l, neuron n, position p): piece q of x_mid (resid_mid of layer l at p) contributes
        gelu_tanh(gate_n) c_n s2_p ((W_up[n] * (1 + w_post)) . q), c_n = W_down[:, n] . u. Pieces: embed_p,
        attn_0(p), mlp_0(p), ..., attn_{l-1}(p), mlp_{l-1}(p), attn_l(p). total = the neuron term.
  logit lens at points blocks.{l}.resid_pre / resid_mid / resid_post: "frozen" = u_t . x_point;
        "own" = E[t] . ((1 + w_norm) * x_point / sqrt(mean(x_point^2)+eps)).

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
from transformers import GemmaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")
REF_DIR = os.path.join(FIX, "reference")
GENERATOR = "tools/make_prism_reference.py"
TEXT = "The capital of France is"
EMBED_MAP_TOKENS = [2, 10, 100, 500, 1500]
MODELS = ["tiny-f32", "tiny-bf16"]


def f64(t):
    return t.detach().to(torch.float64).cpu().numpy()


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def inv_rms(x, eps):
    return 1.0 / math.sqrt(float(np.mean(x * x)) + eps)


class Capture:
    """Forward hooks collecting fp32 activations of one forward pass (batch 1)."""

    def __init__(self, model):
        self.model = model
        self.acts = {}
        self.handles = []
        inner = model.model

        def save(name, fn):
            def hook(_mod, inp, out):
                self.acts[name] = fn(inp, out)
            return hook

        def save_pre(name):
            def hook(_mod, inp):
                self.acts[name] = f64(inp[0][0])
            return hook

        h = self.handles
        h.append(inner.embed_tokens.register_forward_hook(save("embed", lambda i, o: f64(o[0]))))
        h.append(inner.norm.register_forward_pre_hook(save_pre("final_pre_norm")))
        h.append(inner.norm.register_forward_hook(save("final_normed", lambda i, o: f64(o[0]))))
        for l, layer in enumerate(inner.layers):
            h.append(layer.register_forward_pre_hook(save_pre(f"resid_pre.{l}")))
            h.append(layer.register_forward_hook(
                save(f"resid_post.{l}", lambda i, o: f64((o[0] if isinstance(o, tuple) else o)[0]))))
            h.append(layer.post_attention_layernorm.register_forward_pre_hook(save_pre(f"resid_mid.{l}")))
            h.append(layer.self_attn.register_forward_hook(save(f"attn_out.{l}", lambda i, o: f64(o[0][0]))))
            h.append(layer.self_attn.register_forward_hook(save(f"attn_probs.{l}", lambda i, o: f64(o[1][0]))))
            h.append(layer.self_attn.v_proj.register_forward_hook(save(f"v.{l}", lambda i, o: f64(o[0]))))
            h.append(layer.self_attn.o_proj.register_forward_pre_hook(save_pre(f"o_in.{l}")))
            h.append(layer.mlp.register_forward_hook(save(f"mlp_out.{l}", lambda i, o: f64(o[0]))))
            h.append(layer.mlp.gate_proj.register_forward_hook(save(f"gate.{l}", lambda i, o: f64(o[0]))))
            h.append(layer.mlp.up_proj.register_forward_hook(save(f"up.{l}", lambda i, o: f64(o[0]))))
            h.append(layer.mlp.down_proj.register_forward_pre_hook(save_pre(f"down_in.{l}")))

    def run(self, ids):
        self.acts = {}
        with torch.no_grad():
            out = self.model(torch.tensor([ids], dtype=torch.long), output_attentions=True,
                             output_hidden_states=True, use_cache=False)
        return out, self.acts


def load(name):
    d = os.path.join(FIX, name)
    try:
        model = GemmaForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = GemmaForCausalLM.from_pretrained(d, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    cfg = model.config
    assert cfg._attn_implementation == "eager"
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
        self.E = f64(inner.embed_tokens.weight)
        # transformers multiplies the embedding by sqrt(d) cast to the weight dtype (fp32 here)
        self.embed_scale = float(np.float32(self.d ** 0.5))
        self.w_final = f64(inner.norm.weight)
        self.layers = []
        for layer in inner.layers:
            a, m = layer.self_attn, layer.mlp
            self.layers.append(dict(
                w_in=f64(layer.input_layernorm.weight),
                w_post=f64(layer.post_attention_layernorm.weight),
                W_V=f64(a.v_proj.weight),      # [kvH*hd, d]
                W_O=f64(a.o_proj.weight),      # [d, H*hd]
                W_up=f64(m.up_proj.weight),    # [ff, d]
                W_down=f64(m.down_proj.weight),  # [d, ff]
            ))

    def group(self, h):
        return h // (self.H // self.kvH)


class Stats:
    def __init__(self):
        self.m = {}

    def add(self, key, value):
        self.m[key] = max(self.m.get(key, 0.0), abs(float(value)))


def analyse_case(W, acts, logits, ids, p, targets, st, path_choice=None):
    """Return the per_target list; path parameters from the first target when path_choice is None."""
    L, H, hd, eps = W.L, W.H, W.hd, W.eps
    T = len(ids)
    x_p = acts["final_pre_norm"][p]
    s_f = inv_rms(x_p, eps)
    embed = acts["embed"]  # [T, d]
    st.add("embed hook vs E[ids]*sqrt(d)", np.max(np.abs(embed - W.E[ids] * W.embed_scale)))
    st.add("resid_pre.0 vs embed", np.max(np.abs(acts["resid_pre.0"] - embed)))
    # independent re-derivations of what transformers fed into o_proj and down_proj
    for l in range(L):
        A = acts[f"attn_probs.{l}"]
        v = acts[f"v.{l}"].reshape(T, W.kvH, hd)
        z = np.stack([A[h] @ v[:, W.group(h), :] for h in range(H)], axis=1).reshape(T, H * hd)
        st.add("check: z (A v) vs o_proj input", np.max(np.abs(z - acts[f"o_in.{l}"])))
        post = gelu_tanh(acts[f"gate.{l}"]) * acts[f"up.{l}"]
        st.add("check: gelu(gate)*up vs down_proj input", np.max(np.abs(post - acts[f"down_in.{l}"])))
    st.add("check: rmsnorm(final pre-norm) vs model.norm output",
           np.max(np.abs(x_p * s_f * (1 + W.w_final) - acts["final_normed"][p])))

    points = []
    for l in range(L):
        points += [(f"blocks.{l}.resid_pre", acts[f"resid_pre.{l}"][p]),
                   (f"blocks.{l}.resid_mid", acts[f"resid_mid.{l}"][p]),
                   (f"blocks.{l}.resid_post", acts[f"resid_post.{l}"][p])]

    out = []
    for ti, t in enumerate(targets):
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
            A = acts[f"attn_probs.{l}"]
            v = acts[f"v.{l}"].reshape(T, W.kvH, hd)
            w = Wl["W_O"].T @ u  # [H*hd]
            hs_l = np.zeros((H, p + 1))
            h_l = np.zeros(H)
            for h in range(H):
                w_h = w[h * hd:(h + 1) * hd]
                vg = v[: p + 1, W.group(h), :]
                hs_l[h] = A[h, p, : p + 1] * (vg @ w_h)
                z_h = A[h, p, :] @ v[:, W.group(h), :]
                h_l[h] = z_h @ w_h
                st.add("head_sources sum vs head", hs_l[h].sum() - h_l[h])
                st.add("check: attention beyond p (causal mask)", np.sum(np.abs(A[h, p, p + 1:])))
            st.add("heads sum vs attn[l]", h_l.sum() - attn_terms[l])
            post = gelu_tanh(acts[f"gate.{l}"][p]) * acts[f"up.{l}"][p]
            c = Wl["W_down"].T @ u
            n_l = post * c
            st.add("neurons sum vs mlp[l]", n_l.sum() - mlp_terms[l])
            heads.append([float(x) for x in h_l])
            head_sources.append([[float(x) for x in row] for row in hs_l])
            neurons.append([float(x) for x in n_l])
            hs_arr.append(hs_l)
            neuron_arr.append(n_l)

        total = e_term + sum(attn_terms) + sum(mlp_terms)
        st.add("logit - readout_logit", logit - readout)
        st.add("residual (embed+attn+mlp) vs readout_logit", total - readout)
        st.add("residual (embed+attn+mlp) vs logit", total - logit)
        all_heads = e_term + sum(sum(r) for r in heads) + sum(mlp_terms)
        st.add("embed+heads+mlp vs logit", all_heads - logit)
        all_fine = e_term + sum(float(a.sum()) for a in hs_arr) + sum(float(n.sum()) for n in neuron_arr)
        st.add("embed+head_sources+neurons vs logit", all_fine - logit)

        lens_frozen, lens_own = {}, {}
        for name, xp in points:
            lens_frozen[name] = float(u @ xp)
            lens_own[name] = float(W.E[t] @ ((1.0 + W.w_final) * xp * inv_rms(xp, eps)))
        last = f"blocks.{L - 1}.resid_post"
        st.add("lens frozen at last resid_post vs readout_logit", lens_frozen[last] - readout)
        st.add("lens own at last resid_post vs logit", lens_own[last] - logit)

        if path_choice is None:  # chosen from the first target
            lp = L - 1
            hh = int(np.argmax(np.abs(np.array(heads[lp]))))
            jj = int(np.argmax(np.abs(hs_arr[lp][hh])))
            nn_ = int(np.argmax(np.abs(neuron_arr[lp])))
            path_choice = dict(layer=lp, head=hh, source=jj, neuron=nn_)
        lp, hh, jj, nn_ = path_choice["layer"], path_choice["head"], path_choice["source"], path_choice["neuron"]
        Wl = W.layers[lp]

        # head path
        w = Wl["W_O"].T @ u
        w_h = w[hh * hd:(hh + 1) * hd]
        g = W.group(hh)
        WVg = Wl["W_V"][g * hd:(g + 1) * hd, :]  # [hd, d]
        r = (1.0 + Wl["w_in"]) * (WVg.T @ w_h)
        x_j = acts[f"resid_pre.{lp}"][jj]
        s1 = inv_rms(x_j, eps)
        a = acts[f"attn_probs.{lp}"][hh, p, jj]
        pieces_j = [embed[jj]]
        for l in range(lp):
            pieces_j += [acts[f"attn_out.{l}"][jj], acts[f"mlp_out.{l}"][jj]]
        st.add("check: head path pieces sum vs resid_pre", np.max(np.abs(sum(pieces_j) - x_j)))
        hp = [float(a * s1 * (r @ q)) for q in pieces_j]
        hp_total = float(hs_arr[lp][hh, jj])
        st.add("head_path pieces sum vs total", sum(hp) - hp_total)
        emap = [float(a * s1 * (r @ (W.embed_scale * W.E[s]))) for s in EMBED_MAP_TOKENS]

        # neuron path
        x_mid = acts[f"resid_mid.{lp}"][p]
        s2 = inv_rms(x_mid, eps)
        c_n = float(Wl["W_down"][:, nn_] @ u)
        g_n = float(gelu_tanh(acts[f"gate.{lp}"][p, nn_]))
        rn = Wl["W_up"][nn_] * (1.0 + Wl["w_post"])
        pieces_p = [embed[p]]
        for l in range(lp):
            pieces_p += [acts[f"attn_out.{l}"][p], acts[f"mlp_out.{l}"][p]]
        pieces_p.append(acts[f"attn_out.{lp}"][p])
        st.add("check: neuron path pieces sum vs resid_mid", np.max(np.abs(sum(pieces_p) - x_mid)))
        npieces = [float(g_n * c_n * s2 * (rn @ q)) for q in pieces_p]
        np_total = float(neuron_arr[lp][nn_])
        st.add("neuron_path pieces sum vs total", sum(npieces) - np_total)

        out.append({
            "id": int(t), "logit": logit, "readout_logit": readout,
            "embed": e_term, "attn": attn_terms, "mlp": mlp_terms,
            "heads": heads, "head_sources": head_sources, "neurons": neurons,
            "lens": {"frozen": lens_frozen, "own": lens_own},
            "head_path": {"layer": lp, "head": hh, "source": jj, "pieces": hp, "total": hp_total},
            "embedding_map": {"layer": lp, "head": hh, "source": jj, "tokens": list(EMBED_MAP_TOKENS),
                              "values": emap},
            "neuron_path": {"layer": lp, "neuron": nn_, "pieces": npieces, "total": np_total},
        })
    return out


def pick_targets(first, fixed, n):
    ts = [int(first)]
    for t in fixed:
        if len(ts) == n:
            break
        if int(t) not in ts:
            ts.append(int(t))
    assert len(ts) == n
    return ts


def build(name):
    model, tok = load(name)
    W = Weights(model)
    cap = Capture(model)
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

    hidden_check = {}
    cases = []
    for ids, p, fixed, n in specs:
        ids = [int(i) for i in ids]
        p = len(ids) - 1 if p is None else p
        out, acts = cap.run(ids)
        logits = f64(out.logits[0])
        # how does output_hidden_states relate to the pre-norm stream?
        hs = out.hidden_states
        hidden_check["len"] = len(hs)
        hidden_check["last==pre_norm"] = bool(np.array_equal(f64(hs[-1][0]), acts["final_pre_norm"]))
        hidden_check["last==normed"] = bool(np.array_equal(f64(hs[-1][0]), acts["final_normed"]))
        top1 = int(np.argmax(logits[p]))
        targets = pick_targets(top1, fixed, n)
        per_target = analyse_case(W, acts, logits, ids, p, targets, st)
        cases.append({"ids": ids, "position": p, "targets": targets, "per_target": per_target})

    doc = {"model": name, "generator": GENERATOR, "transformers_version": transformers.__version__,
           "cases": cases}
    path = os.path.join(REF_DIR, f"prisms-{name}.json")
    text = json.dumps(doc, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    size = os.path.getsize(path)
    print(f"== {name}: wrote {os.path.relpath(path, ROOT)} ({size} bytes)")
    print(f"   output_hidden_states: {hidden_check['len']} tensors; last is pre-norm stream: "
          f"{hidden_check['last==pre_norm']}, last is final-normed: {hidden_check['last==normed']} "
          f"(pre-norm stream taken from a forward pre-hook on model.model.norm)")
    for c in cases:
        pc = c["per_target"][0]
        print(f"   case T={len(c['ids'])} p={c['position']} targets={c['targets']} "
              f"head_path=(l{pc['head_path']['layer']} h{pc['head_path']['head']} j{pc['head_path']['source']}) "
              f"neuron_path=(l{pc['neuron_path']['layer']} n{pc['neuron_path']['neuron']})")
    for k, v in st.m.items():
        print(f"   max |{k}| = {v:.3e}")
    assert size < 300_000, f"{path} is {size} bytes"
    for k, v in st.m.items():
        assert v < 1e-4, (k, v)
    return path


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for name in MODELS:
        build(name)


if __name__ == "__main__":
    sys.exit(main())
