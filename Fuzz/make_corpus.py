#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/corpus/<target>/ from the test fixtures.

Run from the repository root after building `prism` (debug): `python3 Fuzz/make_corpus.py`.
Seeds are kept small (libFuzzer's -max_len per target is set in tools/fuzz): the fixtures'
configs, index and tokenizers as they are, and a micro Gemma checkpoint (16-token vocabulary,
hidden size 16, one layer) written here, converted to `.prism` by `prism convert`, with an
activation store recorded from it by `prism run`.
"""
import json, os, shutil, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "Fixtures")
OUT = os.path.join(ROOT, "Fuzz", "corpus")
PRISM = os.environ.get("PRISM", os.path.join(ROOT, ".build", "debug", "prism"))


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None, dtype="F32"):
    """tensors: name -> (shape, list of floats). F32 or BF16 (truncated f32)."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (shape, values) in tensors.items():
        if dtype == "F32":
            b = struct.pack("<%df" % len(values), *values)
        else:
            b = b"".join(struct.pack("<f", v)[2:] for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


MICRO = {
    "architectures": ["GemmaForCausalLM"], "model_type": "gemma", "vocab_size": 16, "hidden_size": 16,
    "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
    "head_dim": 8, "max_position_embeddings": 32, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
    "hidden_activation": "gelu_pytorch_tanh", "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
    "tie_word_embeddings": True, "attention_bias": False, "torch_dtype": "float32",
}


def micro_tensors():
    d, ff, q, kv, v = 16, 32, 16, 8, 16
    def w(rows, cols, seed):
        return [rows, cols], [((i * 37 + seed * 11) % 17 - 8) / 64.0 for i in range(rows * cols)]
    t = {"model.embed_tokens.weight": w(v, d, 1), "model.norm.weight": ([d], [0.0] * d)}
    p = "model.layers.0."
    t[p + "input_layernorm.weight"] = ([d], [0.1] * d)
    t[p + "post_attention_layernorm.weight"] = ([d], [-0.1] * d)
    t[p + "self_attn.q_proj.weight"] = w(q, d, 2)
    t[p + "self_attn.k_proj.weight"] = w(kv, d, 3)
    t[p + "self_attn.v_proj.weight"] = w(kv, d, 4)
    t[p + "self_attn.o_proj.weight"] = w(d, q, 5)
    t[p + "mlp.gate_proj.weight"] = w(ff, d, 6)
    t[p + "mlp.up_proj.weight"] = w(ff, d, 7)
    t[p + "mlp.down_proj.weight"] = w(d, ff, 8)
    return t


def gguf_file(kvs, tensors, data, alignment=32):
    """A little-endian GGUF v3 file. kvs: [(key, type id, packed value)]; tensors: [(name, dims, ggml type, offset)]."""
    s = lambda b: struct.pack("<Q", len(b)) + b
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    out += b"".join(s(k.encode()) + struct.pack("<I", t) + v for k, t, v in kvs)
    out += b"".join(s(n.encode()) + struct.pack("<I", len(d)) + struct.pack("<%dQ" % len(d), *d) + struct.pack("<IQ", ty, o)
                    for n, d, ty, o in tensors)
    return out + b"\0" * (-len(out) % alignment) + data


def gguf_seeds():
    """FuzzGGUF: the test fixture (a tensor of each dequantized type, a metadata value of each
    type) and two small files: one Q4_K tensor with gemma3-style metadata, and metadata only."""
    put("FuzzGGUF", "types.gguf", open(os.path.join(FIX, "gguf", "types.gguf"), "rb").read())
    string = lambda v: struct.pack("<Q", len(v.encode())) + v.encode()
    kvs = [("general.architecture", 8, string("gemma3")), ("gemma3.block_count", 4, struct.pack("<I", 1)),
           ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + b"".join(string(t) for t in ["<pad>", "<eos>", "\u2581a"])),
           ("tokenizer.ggml.scores", 9, struct.pack("<IQ3f", 6, 3, 0.0, -1.0, -2.5))]
    block = bytes((i * 37) % 256 for i in range(144))
    put("FuzzGGUF", "q4_k.gguf", gguf_file(kvs, [("blk.0.attn_q.weight", [256, 1], 12, 0)], block))
    put("FuzzGGUF", "metadata-only.gguf", gguf_file(kvs + [("general.alignment", 4, struct.pack("<I", 64))], [], b""))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    gguf_seeds()
    # config.json
    for name in ("tiny-f32", "tiny-bf16"):
        put("FuzzConfig", name + ".json", open(os.path.join(FIX, name, "config.json"), "rb").read())
    put("FuzzConfig", "micro.json", json.dumps(MICRO, indent=1))
    put("FuzzConfig", "gemma2.json", json.dumps({**MICRO, "model_type": "gemma2"}))
    # index
    put("FuzzSafeTensorsIndex", "tiny-bf16.json", open(os.path.join(FIX, "tiny-bf16", "model.safetensors.index.json"), "rb").read())
    put("FuzzSafeTensorsIndex", "small.json", json.dumps({"metadata": {"total_size": 64}, "weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}))
    # safetensors
    t = micro_tensors()
    put("FuzzSafeTensors", "micro-f32.safetensors", safetensors(t, {"format": "pt"}))
    put("FuzzSafeTensors", "micro-bf16.safetensors", safetensors(t, dtype="BF16"))
    put("FuzzSafeTensors", "two.safetensors", safetensors({"a": ([2, 2], [1, 2, 3, 4]), "b": ([0], []), "c": ([3], [5, 6, 7])}))
    for shard in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        raw = open(os.path.join(FIX, "tiny-bf16", shard), "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        put("FuzzSafeTensors", "header-only-" + shard, raw[:8 + n])  # the real header; data cut off
    # tokenizer.json
    tok = os.path.join(FIX, "tokenizer")
    put("FuzzTokenizer", "minimal_valid.json", open(os.path.join(tok, "minimal_valid.json"), "rb").read())
    put("FuzzTokenizer", "tiny-f32.json", open(os.path.join(FIX, "tiny-f32", "tokenizer.json"), "rb").read())
    for m in sorted(os.listdir(os.path.join(tok, "malformed")))[:12]:
        put("FuzzTokenizer", "malformed-" + m, open(os.path.join(tok, "malformed", m), "rb").read())
    # batch lines
    lines = [
        '{"id": "fr", "prompt": "The capital of France is", "targets": [" Paris"]}',
        '{"id": 7, "ids": [2, 651, 6037], "target_ids": [5], "position": -1}',
        '{"id": "d", "prompt": "7+2=", "target_diffs": [["9", "8"]], "position": 2}',
        '{"id": "bad", "prompt": "", "targets": []}',
        'not json',
    ]
    put("FuzzBatchInput", "valid.jsonl", "\n".join(lines[:3]) + "\n")
    put("FuzzBatchInput", "mixed.jsonl", "\n".join(lines) + "\n\n" + lines[0] + "\n")
    put("FuzzBatchInput", "one.jsonl", lines[1])
    # .prism and .acts from the micro checkpoint
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "micro")
        os.makedirs(ck)
        json.dump(MICRO, open(os.path.join(ck, "config.json"), "w"))
        open(os.path.join(ck, "model.safetensors"), "wb").write(safetensors(t))
        shutil.copy(os.path.join(tok, "minimal_valid.json"), os.path.join(ck, "tokenizer.json"))
        for weights in ("int8", "f32"):
            out = os.path.join(tmp, "micro-%s.prism" % weights)
            subprocess.run([PRISM, "convert", ck, "-o", out, "--weights", weights], check=True, stdout=subprocess.DEVNULL)
            put("FuzzModelFile", "micro-%s.prism" % weights, open(out, "rb").read())
        acts = os.path.join(tmp, "micro.acts")
        subprocess.run([PRISM, "run", "-m", os.path.join(tmp, "micro-int8.prism"), "--ids", "2,5,7", "-o", acts],
                       check=True, stdout=subprocess.DEVNULL)
        put("FuzzActivationStore", "micro.acts", open(acts, "rb").read())
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print("corpus: %d bytes" % total)


if __name__ == "__main__":
    sys.exit(main())
