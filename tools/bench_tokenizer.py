#!/usr/bin/env python3
"""Load and encode speed of the Swift GemmaTokenizer beside Hugging Face `tokenizers`.

1. Trains (once; cached in --workdir) a large tokenizer of exactly Gemma's shape: BPE with byte
   fallback and fuse_unk, <0x00>..<0xFF> in the vocabulary, normalizer Replace(" " -> "▁"), no
   pre-tokenizer, Gemma's decoder and <bos> template. The training text is what this machine
   has: vim's documentation and translated menus, and Python's standard library.
2. Builds a benchmark text of several MB from the same sources (other files than training used
   where possible), and times HF: load (median of runs) and encode (median of runs), both
   as one text and line by line.
3. Writes a throwaway SwiftPM package in --workdir whose targets are symlinks to this
   repository's Sources/PrismSupport and Sources/PrismTokenizer plus a small runner, builds it
   with `swift build -c release` (under flock /tmp/swift-build.lock: one Swift build at a time),
   runs it on the same files, checks its ids equal HF's, and prints both side by side.

Usage: python3 tools/bench_tokenizer.py [--vocab 256000] [--train-mb 40] [--text-mb 5] [--runs 5]
                                        [--tokenizer path/to/tokenizer.json] [--unchecked]
"""
import argparse
import glob
import json
import os
import statistics
import struct
import subprocess
import sys
import time

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]


def source_files():
    """Text files present on this machine, in a fixed order: English prose, many languages
    (vim's translated menus), and code."""
    vim = sorted(glob.glob("/usr/share/vim/vim*/doc/*.txt"))
    menus = sorted(glob.glob("/usr/share/vim/vim*/lang/*utf-8*.vim"))
    stdlib = os.path.dirname(os.__file__)
    py = sorted(p for p in glob.glob(os.path.join(stdlib, "**", "*.py"), recursive=True) if "site-packages" not in p)
    return vim, menus, py


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


def take(paths, limit_bytes):
    out, size = [], 0
    for p in paths:
        if size >= limit_bytes:
            break
        t = read(p)
        out.append(t)
        size += len(t.encode("utf-8"))
    return out


def corpora(train_mb, text_mb):
    vim, menus, py = source_files()
    if not vim and not py:
        sys.exit("no text sources found (vim docs or Python's standard library)")
    # Even-indexed files train, odd-indexed ones make the benchmark text (menus go to both:
    # they are few and carry the non-Latin scripts).
    train = take(vim[0::2], train_mb * 2 ** 20 * 0.25) + take(menus, 2 ** 21) + take(py[0::2], train_mb * 2 ** 20 * 0.75)
    bench = take(vim[1::2], text_mb * 2 ** 20 * 0.4) + take(menus, text_mb * 2 ** 20 * 0.1) + take(py[1::2], text_mb * 2 ** 20 * 0.5)
    return train, "".join(bench)[: text_mb * 2 ** 20]


def train_tokenizer(path, vocab_size, train_texts):
    t0 = time.time()
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    # Training only (removed from the saved file, as Gemma has none): "▁" joins the next word,
    # digits are never merged.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("\u2581", "merged_with_next"),
        pre_tokenizers.Digits(individual_digits=True),
    ])
    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=SPECIALS + byte_tokens, limit_alphabet=4000)
    tok.train_from_iterator(train_texts, trainer)
    doc = json.loads(tok.to_str())
    # The byte tokens were reserved as special tokens so they get low ids; in Gemma they are plain
    # vocabulary entries, so drop them from added_tokens (they stay in the model's vocab).
    doc["added_tokens"] = [t for t in doc["added_tokens"] if t["content"] in SPECIALS]
    doc["pre_tokenizer"] = None
    doc["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}]}
    bos = doc["model"]["vocab"]["<bos>"]
    doc["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<bos>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<bos>": {"id": "<bos>", "ids": [bos], "tokens": ["<bos>"]}}}
    # The 2024 gemma-2b file writes merges as "a b" strings; do the same where possible.
    merges = doc["model"]["merges"]
    if all(" " not in a and " " not in b for a, b in merges):
        doc["model"]["merges"] = ["%s %s" % (a, b) for a, b in merges]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    Tokenizer.from_file(tmp)  # HF must accept it
    os.replace(tmp, path)
    print("trained %d-entry vocabulary, %d merges in %.0f s" % (len(doc["model"]["vocab"]), len(merges), time.time() - t0))


RUNNER = r'''
import Foundation
import PrismTokenizer

func clock(_ id: clockid_t) -> Double {
    var ts = timespec()
    clock_gettime(id, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
func now() -> Double { clock(CLOCK_MONOTONIC) }
func cpu() -> Double { clock(CLOCK_PROCESS_CPUTIME_ID) }

let args = CommandLine.arguments
guard args.count == 5, let runs = Int(args[3]) else {
    print("usage: tokbench tokenizer.json text.txt runs ids.bin"); exit(2)
}
do {
    var loads: [Double] = []
    var tok: GemmaTokenizer?
    for _ in 0..<runs {
        let t0 = now()
        tok = try GemmaTokenizer(path: args[1])
        loads.append(now() - t0)
    }
    guard let tok else { exit(1) }
    let data = try Data(contentsOf: URL(fileURLWithPath: args[2]))
    let text = String(decoding: data, as: UTF8.self)
    var encodes: [Double] = []
    var encodeCPU: [Double] = []
    var ids: [Int] = []
    for _ in 0..<runs {
        let t0 = now(), c0 = cpu()
        ids = tok.encode(text, addBos: false)
        encodes.append(now() - t0)
        encodeCPU.append(cpu() - c0)
    }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var lineTimes: [Double] = []
    var lineIds = 0
    for _ in 0..<runs {
        lineIds = 0
        let t0 = now()
        for l in lines { lineIds += tok.encode(l, addBos: false).count }
        lineTimes.append(now() - t0)
    }
    let t0 = now()
    let decoded = try tok.decode(ids)
    let decodeTime = now() - t0
    var raw = Data(capacity: ids.count * 4)
    for id in ids { withUnsafeBytes(of: Int32(id).littleEndian) { raw.append(contentsOf: $0) } }
    try raw.write(to: URL(fileURLWithPath: args[4]))
    try Data(decoded.utf8).write(to: URL(fileURLWithPath: args[4] + ".txt"))
    let out: [String: Any] = ["load_s": loads, "encode_s": encodes, "encode_cpu_s": encodeCPU, "lines_s": lineTimes, "line_ids": lineIds,
                              "n_ids": ids.count, "decode_s": decodeTime,
                              "vocab_size": tok.vocabularySize]
    print(String(decoding: try JSONSerialization.data(withJSONObject: out), as: UTF8.self))
} catch {
    print("error: \(error)")
    exit(1)
}
'''

PACKAGE = '''// swift-tools-version:6.0
import PackageDescription
let release: [SwiftSetting] = [%s]
let package = Package(
    name: "tokbench",
    targets: [
        .target(name: "PrismSupport"),
        .target(name: "PrismTokenizer", dependencies: ["PrismSupport"], swiftSettings: release),
        .executableTarget(name: "tokbench", dependencies: ["PrismTokenizer"]),
    ],
    swiftLanguageModes: [.v5]
)
'''


def build_runner(workdir, unchecked=False):
    """The runner, with PrismTokenizer built as Package.swift builds it (plain -O, checked), or with
    -Ounchecked (as before issue 14) to compare."""
    pkg = os.path.join(workdir, "swiftpkg-unchecked" if unchecked else "swiftpkg")
    os.makedirs(os.path.join(pkg, "Sources", "tokbench"), exist_ok=True)
    for name in ("PrismSupport", "PrismTokenizer"):
        link = os.path.join(pkg, "Sources", name)
        if os.path.islink(link):
            os.remove(link)
        os.symlink(os.path.join(ROOT, "Sources", name), link)
    with open(os.path.join(pkg, "Package.swift"), "w") as f:
        f.write(PACKAGE % ('.unsafeFlags(["-Ounchecked"], .when(configuration: .release))' if unchecked else ""))
    with open(os.path.join(pkg, "Sources", "tokbench", "main.swift"), "w") as f:
        f.write(RUNNER)
    t0 = time.time()
    subprocess.run(["flock", "/tmp/swift-build.lock", "swift", "build", "-c", "release"], cwd=pkg, check=True,
                   stdout=subprocess.DEVNULL)
    print("built the Swift runner in %.0f s" % (time.time() - t0))
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=pkg, check=True,
                         capture_output=True, text=True).stdout.strip()
    return os.path.join(out, "tokbench")


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", type=int, default=256000)
    ap.add_argument("--train-mb", type=int, default=40)
    ap.add_argument("--text-mb", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workdir", default="/tmp/prism-tokbench")
    ap.add_argument("--tokenizer", help="an existing tokenizer.json (e.g. gemma-2b's) instead of training one")
    ap.add_argument("--unchecked", action="store_true",
                    help="build PrismTokenizer with -Ounchecked (the pre-issue-14 flags) to compare with the shipped -O")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    train_texts, text = corpora(args.train_mb, args.text_mb)
    tok_path = args.tokenizer or os.path.join(args.workdir, "tokenizer-%d-%dmb.json" % (args.vocab, args.train_mb))
    if not os.path.exists(tok_path):
        train_tokenizer(tok_path, args.vocab, train_texts)
    text_path = os.path.join(args.workdir, "text-%dmb.txt" % args.text_mb)
    with open(text_path, "w", encoding="utf-8") as f:
        f.write(text)
    text_mb = len(text.encode("utf-8")) / 1e6
    lines = text.split("\n")

    loads, tok = [], None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        tok = Tokenizer.from_file(tok_path)
        loads.append(time.perf_counter() - t0)
    encodes, encode_cpu, ids = [], [], None
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        ids = tok.encode(text, add_special_tokens=False).ids
        encodes.append(time.perf_counter() - t0)
        encode_cpu.append(time.process_time() - c0)
    line_times, line_ids = [], 0
    for _ in range(args.runs):
        t0 = time.perf_counter()
        line_ids = sum(len(tok.encode(l, add_special_tokens=False).ids) for l in lines)
        line_times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    decoded = tok.decode(ids)
    hf_decode = time.perf_counter() - t0
    hf = {"load": median(loads), "encode": median(encodes), "encode_cpu": median(encode_cpu),
          "lines": median(line_times), "decode": hf_decode}

    runner = build_runner(args.workdir, args.unchecked)
    ids_path = os.path.join(args.workdir, "swift-ids.bin")
    res = subprocess.run([runner, tok_path, text_path, str(args.runs), ids_path], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("Swift runner failed: %s%s" % (res.stdout, res.stderr))
    sw = json.loads(res.stdout.strip().splitlines()[-1])
    with open(ids_path, "rb") as f:
        raw = f.read()
    swift_ids = list(struct.unpack("<%di" % (len(raw) // 4), raw))
    same = swift_ids == ids
    if not same:
        first = next((i for i, (a, b) in enumerate(zip(swift_ids, ids)) if a != b), min(len(ids), len(swift_ids)))
        print("MISMATCH: Swift gives %d ids, HF %d; first difference at %d" % (len(swift_ids), len(ids), first))
    lines_same = sw["line_ids"] == line_ids
    with open(ids_path + ".txt", "rb") as f:
        decode_same = f.read() == decoded.encode("utf-8")

    s = {"load": median(sw["load_s"]), "encode": median(sw["encode_s"]), "encode_cpu": median(sw["encode_cpu_s"]),
         "lines": median(sw["lines_s"]),
         "decode": sw["decode_s"]}
    print()
    print("tokenizer: %s (vocabulary %d, file %.1f MB)" % (tok_path, tok.get_vocab_size(), os.path.getsize(tok_path) / 1e6))
    print("text: %.2f MB, %d lines, %d tokens; median of %d runs" % (text_mb, len(lines), len(ids), args.runs))
    print("%-28s %14s %14s %10s" % ("", "HF tokenizers", "Swift", "Swift/HF"))
    print("%-28s %12.3f s %12.3f s %9.2fx" % ("load tokenizer.json", hf["load"], s["load"], hf["load"] / s["load"]))
    for key, label in (("encode", "encode, one text"), ("encode_cpu", "  same, by CPU time"), ("lines", "encode, line by line")):
        print("%-28s %9.2f MB/s %9.2f MB/s %9.2fx" % (label, text_mb / hf[key], text_mb / s[key], hf[key] / s[key]))
    print("%-28s %12.3f s %12.3f s %9.2fx" % ("decode all ids", hf["decode"], s["decode"], hf["decode"] / s["decode"]))
    print("ids identical to HF: %s (one text), %s (line by line token count); decoded text identical: %s"
          % (same, lines_same, decode_same))
    print("(Swift/HF > 1 means Swift is faster; line-by-line HF times include Python's per-call overhead;")
    print(" CPU time is steadier than wall time when the machine is shared; load %.1f)" % os.getloadavg()[0])
    if not (same and lines_same and decode_same):
        sys.exit(1)


if __name__ == "__main__":
    main()
