#!/usr/bin/env python3
"""Writes the small, wrong GGUF files of the bad-input catalogue under Tests/Fixtures/gguf/bad/
with the `gguf` package (llama.cpp's own writer, 0.19), so each refusal is tested on a file a real
writer produced:

  arch-llama.gguf            general.architecture = llama (a supported container, an unsupported model)
  gemma3-metadata-type.gguf  gemma3 with gemma3.block_count written as a string
  gemma3-unsupported-type.gguf  a well-formed micro gemma3 whose token_embd is IQ4_NL (a ggml
                             type prism sizes but does not dequantize)

Deterministic; run from anywhere: python3 tools/make_gguf_bad_fixtures.py
"""
import os

import gguf
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "gguf", "bad")


def micro_gemma3(w, embd_type=None):
    """A complete one-layer gemma3 description (d 32, 1 head of 32, ff 64, vocab 8)."""
    a = "gemma3"
    w.add_uint32(f"{a}.context_length", 128)
    w.add_uint32(f"{a}.embedding_length", 32)
    w.add_uint32(f"{a}.block_count", 1)
    w.add_uint32(f"{a}.feed_forward_length", 64)
    w.add_uint32(f"{a}.attention.head_count", 1)
    w.add_uint32(f"{a}.attention.head_count_kv", 1)
    w.add_uint32(f"{a}.attention.key_length", 32)
    w.add_uint32(f"{a}.attention.value_length", 32)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
    w.add_uint32(f"{a}.attention.sliding_window", 4)
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_array("tokenizer.ggml.tokens", ["<pad>", "<eos>", "<bos>", "<unk>", "a", "b", "c", "d"])
    w.add_array("tokenizer.ggml.scores", [0.0] * 8)
    w.add_array("tokenizer.ggml.token_type", [3, 3, 3, 2, 1, 1, 1, 1])
    rng = np.random.default_rng(0)
    if embd_type is None:
        w.add_tensor("token_embd.weight", rng.standard_normal((8, 32), dtype=np.float32))
    else:
        size = gguf.GGML_QUANT_SIZES[embd_type]
        raw = np.zeros((8, 32 // size[0] * size[1]), dtype=np.uint8)
        w.add_tensor("token_embd.weight", raw, raw_dtype=embd_type)
    w.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    for name, shape in [("attn_norm", (32,)), ("attn_q", (32, 32)), ("attn_k", (32, 32)), ("attn_v", (32, 32)),
                        ("attn_output", (32, 32)), ("attn_q_norm", (32,)), ("attn_k_norm", (32,)),
                        ("post_attention_norm", (32,)), ("ffn_norm", (32,)), ("ffn_gate", (64, 32)),
                        ("ffn_up", (64, 32)), ("ffn_down", (32, 64)), ("post_ffw_norm", (32,))]:
        w.add_tensor(f"blk.0.{name}.weight", rng.standard_normal(shape, dtype=np.float32))


def write(name, arch, fill):
    path = os.path.join(OUT, name)
    w = gguf.GGUFWriter(path, arch)
    fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    os.makedirs(OUT, exist_ok=True)
    write("arch-llama.gguf", "llama", lambda w: w.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32)))

    write("gemma3-unsupported-type.gguf", "gemma3", lambda w: micro_gemma3(w, embd_type=gguf.GGMLQuantizationType.IQ4_NL))

    def string_block_count(w):
        w.add_string("gemma3.block_count", "one")
        w.add_uint32("gemma3.embedding_length", 32)
        w.add_tensor("token_embd.weight", np.zeros((8, 32), dtype=np.float32))
    write("gemma3-metadata-type.gguf", "gemma3", string_block_count)


if __name__ == "__main__":
    main()
