#!/usr/bin/env python3
"""Peer benchmark: llama.cpp (through llama-cpp-python) on the gemma-2b-shaped checkpoint.

    python3 tools/bench_llamacpp.py --checkpoint /work/shaped-gemma-2b \
        --gguf /work/bench/gemma-2b-q8_0.gguf --threads 2 --prompt-tokens 32 --repeats 5 --json

Dependencies: tools/requirements-bench.txt (gguf, llama-cpp-python, numpy). llama-cpp-python builds
llama.cpp from source when installed; build it for this CPU:
    CMAKE_ARGS="-DGGML_NATIVE=ON" pip install -r tools/requirements-bench.txt

Step 1 (skipped when the GGUF exists and is newer than every file of the checkpoint, unless
--force-convert): write the checkpoint's weights as GGUF Q8_0, the way llama.cpp's convert_hf_to_gguf.py
does for GemmaForCausalLM:
  - architecture "gemma"; metadata: context/embedding/feed-forward length, block count, head count,
    head count kv, key/value length (head_dim), rms eps, rope freq base, file type MOSTLY_Q8_0;
  - tokenizer model "llama" (SentencePiece-style) with tokens, scores and token types from tokenizer.json,
    bos/eos/unk/pad/eot ids, add_bos_token, no space prefix;
  - 2-D weights as Q8_0 (blocks of 32 int8 + fp16 scale d = max|x| / 127, bit-exact with
    gguf.quants), the 1-D norm weights as f32 with +1 folded in (llama.cpp's Gemma RMSNorm multiplies by
    w, transformers' by 1 + w); tied embeddings: token_embd.weight only, no output.weight.
  The conversion runs in a child process (so it does not count in the measured peak RSS), streams tensor
  by tensor and row-chunk by row-chunk (peak memory ~0.7 GB, the largest quantized tensor), writes to a
  temporary file and renames it into place when complete.

Step 2: load the GGUF with llama_cpp.Llama (mmap) and measure, with a fixed prompt of --prompt-tokens ids
([bos] + 1000, 1001, ...):
  - prefill: llm.reset(); llm.eval(prompt)   (wall time)
  - decode:  llm.eval([top1 after the prompt]) at position --prompt-tokens   (wall time)
  one warm-up round, then --repeats rounds; medians reported. Also peak RSS (getrusage ru_maxrss),
  current RSS (/proc/self/status), the GGUF size, and the time to read the GGUF once from page cache
  (16 MiB chunks into a reused buffer, after a warm-up read), with 1 thread and with --threads threads
  (the file split into contiguous ranges), as a memory-bandwidth reference for one decode step.

Output: with --json one JSON object on stdout; progress and notes on stderr. Without --json a readable
summary on stdout.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

DEFAULT_CHECKPOINT = "/work/shaped-gemma-2b"
DEFAULT_GGUF = "/work/bench/gemma-2b-q8_0.gguf"
READ_CHUNK = 16 << 20


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Step 1: safetensors (bf16) -> GGUF Q8_0
# --------------------------------------------------------------------------------------------------

class SafetensorsShard:
    """One safetensors file, read with pread: row ranges of a tensor come out as numpy arrays. (Not
    mmap: mapped pages once touched would count in the converter's RSS, up to the whole checkpoint.)"""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY)
        n = int.from_bytes(os.pread(self.fd, 8, 0), "little")
        header = json.loads(os.pread(self.fd, n, 8))
        header.pop("__metadata__", None)
        self.header = header
        self.base = 8 + n

    def shape(self, name):
        info = self.header[name]
        if info["dtype"] != "BF16":
            raise ValueError(f"{name}: expected BF16, found {info['dtype']}")
        return tuple(info["shape"])

    def rows(self, name, r0, r1):
        """bf16 bits (uint16) of rows r0..r1 of a 2-D tensor, or the whole of a 1-D tensor."""
        shape = self.shape(name)
        row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else shape[0]
        begin = self.header[name]["data_offsets"][0]
        n = (r1 - r0) * row * 2
        buf = bytearray(n)
        got = os.preadv(self.fd, [buf], self.base + begin + r0 * row * 2)
        if got != n:
            raise IOError(f"{name}: short read ({got} of {n} bytes)")
        a = np.frombuffer(buf, dtype=np.uint16)
        return a.reshape((r1 - r0,) + tuple(shape[1:])) if len(shape) > 1 else a


def bf16_to_f32(u16):
    return (u16.astype(np.uint32) << 16).view(np.float32)


def q8_0_rows(x, out):
    """Q8_0 of a float32 [rows, cols] block into out (uint8 [rows, cols / 32 * 34]).

    Same arithmetic as ggml's quantize_row_q8_0_ref and gguf.quants.Q8_0 (bit-exact): d = amax / 127,
    id = 1 / d (0 when d == 0), q = roundf(x * id) (half away from zero), d stored as fp16 first.
    """
    rows, cols = x.shape
    blocks = x.reshape(-1, 32)
    d = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    v = blocks * inv
    a = np.abs(v)
    fl = np.floor(a)
    q = fl + np.floor(2 * (a - fl))          # round half away from zero, exact
    q = np.copysign(q, v).astype(np.int8)
    o = out.reshape(-1, 34)
    o[:, :2] = d.astype(np.float16).view(np.uint8)
    o[:, 2:] = q.view(np.uint8)


def tokenizer_arrays(tokenizer_path, vocab_size):
    """tokens, scores and token types for a SentencePiece-style ("llama") GGUF vocabulary.

    tokenizer.json has no piece scores (BPE): score = -id for ordinary pieces (earlier = preferred, the
    order of a SentencePiece BPE model), 0 for control/byte tokens, as llama.cpp's converters do when a
    score is missing."""
    import gguf

    with open(tokenizer_path, encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    tokens = [None] * vocab_size
    for piece, i in vocab.items():
        if i < vocab_size:
            tokens[i] = piece
    added = {a["id"]: a for a in tok.get("added_tokens", [])}
    for i, a in added.items():
        if i < vocab_size:
            tokens[i] = a["content"]
    missing = [i for i, t in enumerate(tokens) if t is None]
    for i in missing:
        tokens[i] = f"[PAD{i}]"
    unk = tok["model"].get("unk_token") or "<unk>"
    scores = np.zeros(vocab_size, dtype=np.float32)
    types = np.full(vocab_size, int(gguf.TokenType.NORMAL), dtype=np.int32)
    for i, t in enumerate(tokens):
        if i in added:
            a = added[i]
            if t == unk:
                types[i] = int(gguf.TokenType.UNKNOWN)
            elif a.get("special", False):
                types[i] = int(gguf.TokenType.CONTROL)
            else:
                types[i] = int(gguf.TokenType.USER_DEFINED)
        elif len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
            types[i] = int(gguf.TokenType.BYTE)
        elif i in missing:
            types[i] = int(gguf.TokenType.UNUSED)
        else:
            scores[i] = -float(i)
    return tokens, scores.tolist(), types.tolist(), len(missing)


def convert(checkpoint, gguf_path):
    import gguf
    from gguf import GGMLQuantizationType as QT

    t0 = time.perf_counter()
    with open(os.path.join(checkpoint, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(checkpoint, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
    elif os.path.exists(os.path.join(checkpoint, "model.safetensors")):
        # One file, no index: every tensor is in it.
        weight_map = {name: "model.safetensors" for name in SafetensorsShard(os.path.join(checkpoint, "model.safetensors")).header}
    else:
        raise SystemExit(f"{checkpoint}: neither model.safetensors.index.json nor model.safetensors")
    shards = {fn: SafetensorsShard(os.path.join(checkpoint, fn)) for fn in sorted(set(weight_map.values()))}

    n_layers = cfg["num_hidden_layers"]
    head_dim = cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    rope_theta = cfg.get("rope_theta", (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0))

    arch = gguf.MODEL_ARCH.GEMMA
    names = gguf.TENSOR_NAMES
    MT = gguf.MODEL_TENSOR
    plan = [("model.embed_tokens.weight", names[MT.TOKEN_EMBD] + ".weight")]
    per_layer = [
        ("input_layernorm", MT.ATTN_NORM), ("self_attn.q_proj", MT.ATTN_Q), ("self_attn.k_proj", MT.ATTN_K),
        ("self_attn.v_proj", MT.ATTN_V), ("self_attn.o_proj", MT.ATTN_OUT),
        ("post_attention_layernorm", MT.FFN_NORM), ("mlp.gate_proj", MT.FFN_GATE),
        ("mlp.up_proj", MT.FFN_UP), ("mlp.down_proj", MT.FFN_DOWN),
    ]
    for layer in range(n_layers):
        for hf, mt in per_layer:
            plan.append((f"model.layers.{layer}.{hf}.weight", names[mt].format(bid=layer) + ".weight"))
    plan.append(("model.norm.weight", names[MT.OUTPUT_NORM] + ".weight"))
    assert set(gguf.MODEL_TENSORS[arch]) >= {MT.TOKEN_EMBD, MT.OUTPUT_NORM} | {mt for _, mt in per_layer}
    unused = set(weight_map) - {hf for hf, _ in plan}
    if unused - {"lm_head.weight"}:
        raise ValueError(f"tensors not mapped: {sorted(unused)[:5]}")

    tmp = gguf_path + ".partial"
    w = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[arch])
    w.add_name(os.path.basename(os.path.normpath(checkpoint)))
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(n_layers)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg.get("num_key_value_heads", cfg["num_attention_heads"]))
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(float(rope_theta))
    w.add_file_type(int(gguf.LlamaFileType.MOSTLY_Q8_0))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    tokens, scores, types, n_missing = tokenizer_arrays(os.path.join(checkpoint, "tokenizer.json"),
                                                        cfg["vocab_size"])
    if n_missing:
        log(f"note: {n_missing} ids have no piece in tokenizer.json; written as [PADn], UNUSED")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(cfg.get("bos_token_id", 2))
    w.add_eos_token_id(cfg.get("eos_token_id", 1))
    w.add_unk_token_id(3)
    w.add_pad_token_id(cfg.get("pad_token_id", 0))
    if len(tokens) > 107 and tokens[107] == "<end_of_turn>":
        w.add_eot_token_id(107)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    del tokens, scores, types

    # Tensor infos first (the header needs every shape and byte size), then the data, one tensor at a time.
    infos = []
    for hf, gg in plan:
        shape = shards[weight_map[hf]].shape(hf)
        if len(shape) == 1:
            w.add_tensor_info(gg, shape, np.dtype(np.float32), shape[0] * 4, raw_dtype=QT.F32)
            infos.append((hf, gg, shape, shape[0] * 4, "f32"))
        else:
            rows, cols = shape
            assert cols % 32 == 0
            nbytes = rows * (cols // 32) * 34
            w.add_tensor_info(gg, shape, np.dtype(np.float32), nbytes, raw_dtype=QT.Q8_0)
            infos.append((hf, gg, shape, nbytes, "q8_0"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=2)  # numpy releases the GIL on large ufuncs
    total = sum(i[3] for i in infos)
    done = 0
    last = time.perf_counter()
    for hf, gg, shape, nbytes, kind in infos:
        shard = shards[weight_map[hf]]
        if kind == "f32":
            out = bf16_to_f32(shard.rows(hf, 0, 1)) + np.float32(1.0)   # Gemma: 1 + w folded in
        else:
            rows, cols = shape
            out = np.empty((rows, cols // 32 * 34), dtype=np.uint8)
            step = max(1, (1 << 22) // cols)      # one task: ~4M values read at once
            sub = max(1, (1 << 15) // cols)       # cache-sized pieces inside a task

            def work(r0, hf=hf, shard=shard, out=out, step=step, sub=sub, rows=rows):
                r1 = min(r0 + step, rows)
                raw = shard.rows(hf, r0, r1)
                for a in range(0, r1 - r0, sub):
                    b = min(a + sub, r1 - r0)
                    q8_0_rows(bf16_to_f32(raw[a:b]), out[r0 + a:r0 + b])

            list(pool.map(work, range(0, rows, step)))
        assert out.nbytes == nbytes
        w.write_tensor_data(out)
        del out
        done += nbytes
        now = time.perf_counter()
        if now - last > 10:
            log(f"  convert: {done / total * 100:5.1f}% ({now - t0:.0f} s)")
            last = now
    pool.shutdown()
    w.close()
    verify_gguf(tmp, infos, shards, weight_map)
    for sh in shards.values():
        os.close(sh.fd)
    os.replace(tmp, gguf_path)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"convert_s": round(elapsed, 2), "convert_peak_rss_bytes": peak,
            "gguf_bytes": os.path.getsize(gguf_path)}


def verify_gguf(path, infos, shards, weight_map):
    """Read the written file back with gguf.GGUFReader: every tensor with its name, shape and type; one
    quantized tensor and one norm compared with the checkpoint."""
    import gguf

    r = gguf.GGUFReader(path)
    got = {t.name: t for t in r.tensors}
    for hf, gg, shape, nbytes, kind in infos:
        t = got.get(gg)
        if t is None:
            raise SystemExit(f"verify: {gg} missing")
        want = gguf.GGMLQuantizationType.F32 if kind == "f32" else gguf.GGMLQuantizationType.Q8_0
        if t.tensor_type != want or tuple(int(x) for x in reversed(t.shape)) != tuple(shape) or t.n_bytes != nbytes:
            raise SystemExit(f"verify: {gg}: {t.tensor_type.name} {list(t.shape)} {t.n_bytes} bytes")
    if len(got) != len(infos):
        raise SystemExit(f"verify: {len(got)} tensors in the file, {len(infos)} planned")
    by_gg = {gg: hf for hf, gg, *_ in infos}
    k = got["blk.0.attn_k.weight"]
    hf = by_gg[k.name]
    src = bf16_to_f32(shards[weight_map[hf]].rows(hf, 0, k.data.shape[0]))
    deq = gguf.quants.dequantize(np.asarray(k.data), gguf.GGMLQuantizationType.Q8_0)
    blocks = src.reshape(-1, 32)
    # rounding (d / 2) plus the fp16 rounding of d (up to 127 * d * 2^-11)
    tol = np.abs(blocks).max(axis=1, keepdims=True) / 127 * 0.6 + 1e-12
    if not np.all(np.abs(deq.reshape(-1, 32) - blocks) <= tol):
        raise SystemExit("verify: blk.0.attn_k.weight does not dequantize to the checkpoint within Q8_0 error")
    n = got["output_norm.weight"]
    src = bf16_to_f32(shards[weight_map[by_gg[n.name]]].rows("model.norm.weight", 0, 1))
    if not np.array_equal(np.asarray(n.data), src + np.float32(1)):
        raise SystemExit("verify: output_norm.weight != 1 + model.norm.weight")
    arch = r.fields["general.architecture"]
    log(f"verified {len(got)} tensors; architecture {bytes(arch.parts[arch.data[0]]).decode()}")


def checkpoint_mtime(checkpoint):
    return max(os.path.getmtime(os.path.join(checkpoint, f)) for f in os.listdir(checkpoint))


def ensure_gguf(args):
    if args.checkpoint == "none":
        # A GGUF as it is (e.g. gemma-3-270m's Q4_K_M from tools/fetch_gemma3_270m.py): nothing to convert.
        if not os.path.exists(args.gguf):
            raise SystemExit(f"{args.gguf} does not exist")
        log(f"measuring {args.gguf} as it is (no checkpoint to convert)")
        return None
    if not args.force_convert and os.path.exists(args.gguf):
        if os.path.getmtime(args.gguf) > checkpoint_mtime(args.checkpoint):
            log(f"GGUF {args.gguf} is newer than the checkpoint: conversion skipped")
            return None
        # A file the user has is never replaced unasked.
        raise SystemExit(f"{args.gguf} is older than the checkpoint {args.checkpoint}; pass --force-convert to rewrite it, "
                         "or give another --gguf")
    os.makedirs(os.path.dirname(os.path.abspath(args.gguf)) or ".", exist_ok=True)
    log(f"converting {args.checkpoint} -> {args.gguf} (Q8_0), in a child process ...")
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--convert-only",
                           "--checkpoint", args.checkpoint, "--gguf", args.gguf],
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"conversion failed (exit {proc.returncode})")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    log(f"converted in {info['convert_s']:.1f} s, peak RSS {info['convert_peak_rss_bytes'] / 2**30:.2f} GiB, "
        f"{info['gguf_bytes'] / 1e9:.3f} GB")
    return info


# --------------------------------------------------------------------------------------------------
# Step 2: measurements
# --------------------------------------------------------------------------------------------------

def read_file_once(path, n_threads):
    """Read the whole file through the page cache in 16 MiB chunks into reused buffers; n_threads threads
    each read one contiguous range. Returns seconds."""
    size = os.path.getsize(path)
    bounds = [size * i // n_threads for i in range(n_threads + 1)]

    def reader(lo, hi, buf):
        with open(path, "rb", buffering=0) as f:
            f.seek(lo)
            mv = memoryview(buf)
            left = hi - lo
            while left > 0:
                n = f.readinto(mv[:min(READ_CHUNK, left)])
                if not n:
                    break
                left -= n

    bufs = [bytearray(READ_CHUNK) for _ in range(n_threads)]
    t0 = time.perf_counter()
    if n_threads == 1:
        reader(0, size, bufs[0])
    else:
        ts = [threading.Thread(target=reader, args=(bounds[i], bounds[i + 1], bufs[i])) for i in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    return time.perf_counter() - t0


def rss_status():
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def median_ms(xs):
    return round(statistics.median(xs) * 1000, 3)


def bench(args, convert_info):
    import llama_cpp
    from llama_cpp import Llama

    gguf_bytes = os.path.getsize(args.gguf)
    log(f"llama-cpp-python {llama_cpp.__version__}; system info: "
        f"{llama_cpp.llama_print_system_info().decode(errors='replace').strip()}")

    load_before = os.getloadavg()[0]
    if load_before > args.threads * 0.5:
        log(f"note: 1-minute load average is {load_before:.2f} before the run: other processes compete "
            f"for the CPUs, the times below are inflated")
    t0 = time.perf_counter()
    llm = Llama(model_path=args.gguf, n_threads=args.threads, n_threads_batch=args.threads, n_ctx=128,
                n_batch=64, use_mmap=True, verbose=args.verbose, logits_all=False)
    load_s = time.perf_counter() - t0
    log(f"loaded in {load_s * 1000:.0f} ms (n_vocab {llm.n_vocab()}, n_ctx {llm.n_ctx()})")
    if args.prompt_tokens + 1 > llm.n_ctx():
        raise SystemExit("--prompt-tokens too large for n_ctx=128")

    bos = llm.token_bos()
    prompt = [bos] + list(range(1000, 1000 + args.prompt_tokens - 1))
    assert len(prompt) == args.prompt_tokens

    n_vocab = llm.n_vocab()

    def last_logits():
        # logits_all=False: llama-cpp-python's eval() leaves llm.scores unfilled; read the logits of the
        # last token of the last batch from the context (a copy: the next decode overwrites them).
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).copy()

    def sync():
        if hasattr(llama_cpp, "llama_synchronize"):   # CPU decode is synchronous already; be explicit
            llama_cpp.llama_synchronize(llm.ctx)

    prefill, decode = [], []
    top1 = None
    top1_decode = None
    for r in range(args.repeats + 1):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        sync()
        t1 = time.perf_counter()
        logits = last_logits()
        if not np.all(np.isfinite(logits)):
            raise SystemExit(f"non-finite logits after the prompt (round {r})")
        t = int(np.argmax(logits))
        if top1 is None:
            top1 = t
        elif t != top1:
            log(f"warning: top-1 after the prompt changed between rounds ({top1} -> {t})")
        t2 = time.perf_counter()
        llm.eval([top1])
        sync()
        t3 = time.perf_counter()
        dl = last_logits()
        if not np.all(np.isfinite(dl)):
            raise SystemExit(f"non-finite logits after the decode step (round {r})")
        top1_decode = int(np.argmax(dl))
        tag = "warm-up" if r == 0 else f"round {r}"
        log(f"  {tag}: prefill {(t1 - t0) * 1000:.1f} ms, decode {(t3 - t2) * 1000:.1f} ms")
        if r > 0:
            prefill.append(t1 - t0)
            decode.append(t3 - t2)
    log(f"top-1 after the prompt: {top1} (logit {logits[top1]:.4f}); after the decode step: {top1_decode}")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    status = rss_status()

    # Bandwidth reference: the file once through the page cache (warm-up read first).
    read_file_once(args.gguf, 1)
    reads1 = [read_file_once(args.gguf, 1) for _ in range(3)]
    readsn = [read_file_once(args.gguf, args.threads) for _ in range(3)]

    res = {
        "peer": "llama.cpp",
        "llama_cpp_python": llama_cpp.__version__,
        "gguf_bytes": gguf_bytes,
        "prefill_ms_median": median_ms(prefill),
        "decode_ms_median": median_ms(decode),
        "prefill_ms_min": round(min(prefill) * 1000, 3),
        "decode_ms_min": round(min(decode) * 1000, 3),
        "prefill_ms_all": [round(x * 1000, 3) for x in prefill],
        "decode_ms_all": [round(x * 1000, 3) for x in decode],
        "peak_rss_bytes": peak,
        "rss_bytes": status.get("VmRSS"),
        "rss_anon_bytes": status.get("RssAnon"),
        "rss_file_bytes": status.get("RssFile"),
        "threads": args.threads,
        "prompt_tokens": args.prompt_tokens,
        "read_once_ms": median_ms(readsn),
        "read_once_ms_1thread": median_ms(reads1),
        "read_once_threads": args.threads,
        "decode_over_read": round(statistics.median(decode) / statistics.median(readsn), 3),
        "load_ms": round(load_s * 1000, 1),
        "top1": top1,
        "top1_after_decode": top1_decode,
        "prompt": "[bos] + ids 1000..%d" % (1000 + args.prompt_tokens - 2),
        "convert_s": convert_info["convert_s"] if convert_info else None,
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
    }
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help="'none': measure --gguf as it is")
    ap.add_argument("--gguf", default=DEFAULT_GGUF)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--force-convert", action="store_true", help="rewrite the GGUF even if it is up to date")
    ap.add_argument("--convert-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--verbose", action="store_true", help="let llama.cpp log to stderr")
    args = ap.parse_args()

    if args.convert_only:
        print(json.dumps(convert(args.checkpoint, args.gguf)))
        return
    if args.prompt_tokens < 1 or args.repeats < 1 or args.threads < 1:
        raise SystemExit("--prompt-tokens, --repeats and --threads must be >= 1")

    convert_info = ensure_gguf(args)
    res = bench(args, convert_info)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"llama.cpp (llama-cpp-python {res['llama_cpp_python']}), Q8_0 GGUF {res['gguf_bytes'] / 1e9:.3f} GB, "
              f"{res['threads']} threads")
        print(f"  prefill of {res['prompt_tokens']} tokens: {res['prefill_ms_median']:.1f} ms (median of "
              f"{len(res['prefill_ms_all'])})")
        print(f"  decode step at position {res['prompt_tokens']}: {res['decode_ms_median']:.1f} ms")
        print(f"  read the GGUF once from page cache: {res['read_once_ms']:.1f} ms ({res['threads']} threads), "
              f"{res['read_once_ms_1thread']:.1f} ms (1 thread); decode / read = {res['decode_over_read']}")
        print(f"  peak RSS {res['peak_rss_bytes'] / 2**30:.2f} GiB, RSS now {(res['rss_bytes'] or 0) / 2**30:.2f} GiB")
        print(f"  top-1 after the prompt: {res['top1']}")


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        # One line, not a traceback: a checkpoint that is not bf16 safetensors, a file missing.
        raise SystemExit(f"error: {type(e).__name__}: {e}")
