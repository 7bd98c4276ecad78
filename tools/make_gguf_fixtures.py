#!/usr/bin/env python3
"""Writes the GGUF test fixtures under Tests/Fixtures/gguf/ with the `gguf` package (llama.cpp's
own Python writer and reference dequantizer; tested with gguf 0.19):

  types.gguf        one 2-D tensor of each type prism dequantizes (F32, F16, BF16, Q8_0, Q4_0,
                    Q4_1, Q5_0, Q5_1, Q2_K .. Q6_K), a few blocks of random bytes each with finite
                    random f16 scales (subnormals included), and a metadata value of every type
                    (nested array included); alignment 64, so the default is not what is tested.
  expected/NAME.f32 gguf.quants.dequantize of each tensor, little-endian float32, row-major.
  metadata.json     every metadata key in file order with its type and value (integers as decimal
                    strings, floats as hex bit patterns, so nothing is rounded on the way).
  types.json        gguf's (block size, bytes per block) for every ggml type it knows.

Deterministic (fixed seed): running it again rewrites the same bytes.
Run from the repository root: python3 tools/make_gguf_fixtures.py
"""
import json, os, struct

import gguf
import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "gguf")

# Byte offsets of the f16 scale fields inside one block of each quantized type (ggml-common.h).
HALF_FIELDS = {
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
# (rows, columns) per type: 2-D, a few blocks each, rows a whole number of blocks.
SHAPES = {T.F32: (3, 8), T.F16: (4, 8), T.BF16: (3, 8)}
SHAPES.update({t: (3, 64) for t in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1)})
SHAPES.update({t: (2, 512) for t in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K)})


def finite_halves(rng, n):
    """n random f16 bit patterns, every exponent but all-ones (inf/NaN), so subnormals occur."""
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint16)
    bad = (h & 0x7C00) == 0x7C00
    h[bad] &= 0xBFFF  # clear an exponent bit: finite
    return h


def tensor_bytes(rng, qtype, rows, cols):
    """Raw bytes for a (rows, cols) tensor of qtype: random but valid."""
    if qtype == T.F32:
        return rng.standard_normal((rows, cols)).astype(np.float32)
    if qtype == T.F16:
        h = finite_halves(rng, rows * cols)
        # Edge cases the conversion must get right: signed zeros, smallest/largest subnormal,
        # smallest normal, largest finite, infinities, a quiet NaN.
        h[:10] = [0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00]
        return h.view(np.float16).reshape(rows, cols)
    if qtype == T.BF16:
        return rng.integers(0, 1 << 16, size=(rows, cols), dtype=np.uint16).view(np.uint8).reshape(rows, cols * 2)
    block, size = GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block
    blocks = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        blocks[:, off:off + 2] = finite_halves(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(rows, cols // block * size)


METADATA = [  # (key, value, type); arrays: (key, list, ARRAY) with the element type inferred
    ("test.uint8", 200, gguf.GGUFValueType.UINT8),
    ("test.int8", -100, gguf.GGUFValueType.INT8),
    ("test.uint16", 65000, gguf.GGUFValueType.UINT16),
    ("test.int16", -32000, gguf.GGUFValueType.INT16),
    ("test.uint32", 4000000000, gguf.GGUFValueType.UINT32),
    ("test.int32", -2000000000, gguf.GGUFValueType.INT32),
    ("test.uint64", 18446744073709551615, gguf.GGUFValueType.UINT64),
    ("test.int64", -9223372036854775808, gguf.GGUFValueType.INT64),
    ("test.float32", 1e-6, gguf.GGUFValueType.FLOAT32),
    ("test.float64", 3.141592653589793, gguf.GGUFValueType.FLOAT64),
    ("test.bool_true", True, gguf.GGUFValueType.BOOL),
    ("test.bool_false", False, gguf.GGUFValueType.BOOL),
    ("test.string", "Grüße, 世界 ▁ 🙂", gguf.GGUFValueType.STRING),
    ("test.empty_string", "", gguf.GGUFValueType.STRING),
    ("test.strings", ["<pad>", "<eos>", "▁the", "\n", "é"], gguf.GGUFValueType.ARRAY),
    ("test.floats", [0.0, -1.5, 1e30, -2.5e-8], gguf.GGUFValueType.ARRAY),
    ("test.ints", [1, -2, 3], gguf.GGUFValueType.ARRAY),
    ("test.bools", [True, False, True], gguf.GGUFValueType.ARRAY),
    ("test.nested", [[1, 2], [3]], gguf.GGUFValueType.ARRAY),
    ("test.nested_strings", [["a", "b"], ["c"]], gguf.GGUFValueType.ARRAY),
]


def describe(value, vtype):
    """A JSON description of a value as the file stores it (types as GGUFValueType names)."""
    name = vtype.name.lower()
    if vtype == gguf.GGUFValueType.ARRAY:
        sub = gguf.GGUFValueType.get_type(value[0])
        return {"type": "array", "element": sub.name.lower(), "items": [describe(v, sub) for v in value]}
    if vtype == gguf.GGUFValueType.FLOAT32:
        return {"type": name, "bits": "%08x" % struct.unpack("<I", struct.pack("<f", value))[0]}
    if vtype == gguf.GGUFValueType.FLOAT64:
        return {"type": name, "bits": "%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]}
    if vtype in (gguf.GGUFValueType.BOOL, gguf.GGUFValueType.STRING):
        return {"type": name, "value": value}
    return {"type": name, "value": str(value)}


def main():
    os.makedirs(os.path.join(OUT, "expected"), exist_ok=True)
    rng = np.random.default_rng(20240917)
    path = os.path.join(OUT, "types.gguf")
    w = gguf.GGUFWriter(path, "test")
    w.add_custom_alignment(64)
    described = [("general.architecture", describe("test", gguf.GGUFValueType.STRING)),
                 ("general.alignment", describe(64, gguf.GGUFValueType.UINT32))]
    for key, value, vtype in METADATA:
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_array(key, value)
        else:
            w.add_key_value(key, value, vtype)
        described.append((key, describe(value, vtype)))
    expected = {}
    for qtype, (rows, cols) in SHAPES.items():
        name = "t." + qtype.name
        raw = tensor_bytes(rng, qtype, rows, cols)
        if qtype in (T.F32, T.F16):
            w.add_tensor(name, raw)
        else:
            w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qtype)
        ref = gguf.quants.dequantize(raw.view(np.uint8) if qtype not in (T.F32, T.F16) else raw, qtype)
        ref = np.asarray(ref, dtype=np.float32).reshape(rows, cols)
        expected[name] = ref
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for name, ref in expected.items():
        ref.astype("<f4").tofile(os.path.join(OUT, "expected", name + ".f32"))
    with open(os.path.join(OUT, "metadata.json"), "w") as f:
        json.dump({"keys": [k for k, _ in described], "values": dict(described)}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(OUT, "types.json"), "w") as f:
        json.dump({t.name: list(GGML_QUANT_SIZES[t]) for t in T if t in GGML_QUANT_SIZES}, f, indent=1)
        f.write("\n")
    # Read back with gguf's own reader: the file is what llama.cpp's tools expect.
    r = gguf.GGUFReader(path)
    assert [t.name for t in r.tensors] == list(expected), [t.name for t in r.tensors]
    for t in r.tensors:
        got = gguf.quants.dequantize(t.data, t.tensor_type).reshape(expected[t.name].shape)
        assert np.array_equal(got.view(np.uint32), expected[t.name].view(np.uint32)), t.name
    print("wrote %s (%d bytes, %d tensors)" % (path, os.path.getsize(path), len(expected)))


if __name__ == "__main__":
    main()
