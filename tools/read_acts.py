#!/usr/bin/env python3
"""Load a logit-prisms activation store (.acts) into numpy.

    from read_acts import load
    acts = load("france.acts")           # {"ids": [...], "model": ..., "route": ..., "tensors": {name: ndarray}}
    acts["tensors"]["blocks.3.attn.pattern"].shape   # (heads, T, T)

Layout: docs/ACTIVATIONS.md. Needs numpy and the PyPI packages `lz4` and `xxhash`
(`pip install -r tools/requirements-acts.txt`).
"""
import json
import struct
import sys

import lz4.block
import numpy as np
import xxhash


def load(path, names=None):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"PRISMACT":
        raise ValueError(f"{path}: not an activation store")
    major, minor, ioff, ilen, flen, ixxh, _reserved, hxxh = struct.unpack_from("<IIQQQQQQ", data, 8)
    if xxhash.xxh64(data[:56]).intdigest() != hxxh or flen != len(data):
        raise ValueError(f"{path}: corrupt or truncated header")
    index_bytes = data[ioff:ioff + ilen]
    if xxhash.xxh64(index_bytes).intdigest() != ixxh:
        raise ValueError(f"{path}: corrupt index")
    index = json.loads(index_bytes)
    tensors = {}
    for t in index["tensors"]:
        if names is not None and t["name"] not in names:
            continue
        parts = []
        for c in t["chunks"]:
            blob = data[c["offset"]:c["offset"] + c["length"]]
            if xxhash.xxh64(blob).hexdigest() != c["xxh64"]:
                raise ValueError(f"{path}: chunk of {t['name']} is corrupt")
            parts.append(lz4.block.decompress(blob, uncompressed_size=c["raw"]))
        tensors[t["name"]] = np.frombuffer(b"".join(parts), dtype="<f4").reshape(t["shape"])
    return {"ids": index["ids"], "model": index["model"], "model_path": index["model_path"],
            "route": index.get("route"), "tensors": tensors}


if __name__ == "__main__":
    acts = load(sys.argv[1])
    print("ids:", acts["ids"])
    for name, a in acts["tensors"].items():
        print(f"{name:32s} {str(a.shape):20s} mean {a.mean():+.4f}")
