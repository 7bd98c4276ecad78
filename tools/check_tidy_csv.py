#!/usr/bin/env python3
"""Check that prism's CSV outputs are tidy, with the Python standard library only.

usage: check_tidy_csv.py decompose DIR     (the files of `prism decompose --csv DIR`)
       check_tidy_csv.py lens FILE LAYERS  (the file of `prism lens --csv FILE`)

decompose: every file loads with `csv`; one observation a row (no key twice); the target
columns agree with targets.json (command-line order, ids, coefficients, labels without quotes);
grouping terms.csv by target and summing gives totals.csv's sum, and the logit to 1e-5
(relative to max(1, |logit|)); heads and neurons sum to their blocks' terms.
lens: one row per position, point and token, 1 + 2 x LAYERS distinct points per position.
Exit status 0 when tidy, else one line per problem on stderr and status 1.
"""
import csv
import json
import math
import sys
from collections import defaultdict

problems = []


def fail(msg):
    problems.append(msg)


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def close(a, b, scale):
    return abs(a - b) <= 1e-5 * max(1.0, abs(scale))


def unique(name, table, key):
    seen = set()
    for r in table:
        k = tuple(r[c] for c in key)
        if k in seen:
            fail(f"{name}: {key} = {k} appears twice")
            return
        seen.add(k)


def check_decompose(d):
    meta = json.load(open(f"{d}/targets.json", encoding="utf-8"))
    targets = meta["targets"]
    terms, heads, sources = rows(f"{d}/terms.csv"), rows(f"{d}/heads.csv"), rows(f"{d}/head_sources.csv")
    neurons, totals = rows(f"{d}/neurons.csv"), rows(f"{d}/totals.csv")
    for name, table in [("terms", terms), ("heads", heads), ("head_sources", sources), ("neurons", neurons), ("totals", totals)]:
        for r in table:
            if r["target_label"].startswith('"') or r["target_label"].endswith('"'):
                fail(f"{name}.csv: target_label {r['target_label']!r} keeps quotes")
                break
            k = int(r["target_index"])
            t = targets[k]
            want_id = str(t["id"]) if "id" in t else ""
            if r["target_id"] != want_id or r["target_label"] != t["label"]:
                fail(f"{name}.csv: target {k} is ({r['target_id']}, {r['target_label']!r}), targets.json says ({want_id}, {t['label']!r})")
                break
    unique("terms.csv", terms, ["target_index", "component"])
    unique("heads.csv", heads, ["target_index", "layer", "head"])
    unique("head_sources.csv", sources, ["target_index", "layer", "head", "source"])
    unique("neurons.csv", neurons, ["target_index", "layer", "neuron"])
    unique("totals.csv", totals, ["target_index"])
    if [int(r["target_index"]) for r in totals] != list(range(len(targets))):
        fail("totals.csv does not list every target once, in targets.json's order")
    for r in totals:
        t = targets[int(r["target_index"])]
        if r["target_ids"].split() != [str(i) for i in t["ids"]]:
            fail(f"totals.csv: target_ids {r['target_ids']} vs {t['ids']}")
        if [float(c) for c in r["target_coefficients"].split()] != t["coefficients"]:
            fail(f"totals.csv: target_coefficients {r['target_coefficients']} vs {t['coefficients']}")
    # The sums: terms by target give the sum and the logit; finer terms give their blocks' terms.
    by_target = defaultdict(float)
    block = {}
    for r in terms:
        by_target[r["target_index"]] += float(r["value"])
        block[(r["target_index"], r["component"])] = float(r["value"])
    for r in totals:
        k, logit, total = r["target_index"], float(r["logit"]), float(r["sum"])
        if not close(by_target[k], total, logit):
            fail(f"terms.csv: target {k} sums to {by_target[k]}, totals.csv sum is {total}")
        if not close(by_target[k], logit, logit):
            fail(f"terms.csv: target {k} sums to {by_target[k]}, totals.csv logit is {logit}")
    for name, table, kind in [("heads.csv", heads, "attn"), ("neurons.csv", neurons, "mlp")]:
        sums = defaultdict(float)
        for r in table:
            sums[(r["target_index"], f"blocks.{r['layer']}.{kind}")] += float(r["value"])
        for key, v in sums.items():
            if not close(v, block[key], block[key]):
                fail(f"{name}: {key} sums to {v}, terms.csv has {block[key]}")
    ids = meta["ids"]
    for r in sources:
        j = int(r["source"])
        if int(r["source_id"]) != ids[j] or r["source_text"] != meta["tokens"][j]:
            fail(f"head_sources.csv: source {j} is ({r['source_id']}, {r['source_text']!r}), the prompt has ({ids[j]}, {meta['tokens'][j]!r})")
            break


def check_lens(path, layers):
    table = rows(path)
    if not table:
        fail(f"{path} has no rows")
        return
    points = defaultdict(set)
    for r in table:
        points[r["position"]].add(r["point"])
        if r["role"] == "target" and r["token_id"]:
            p = float(r["probability"])
            if not (0.0 <= p <= 1.0) and not math.isnan(p):
                fail(f"{path}: probability {p} outside [0, 1]")
                break
    for q, names in points.items():
        if len(names) != 1 + 2 * layers:
            fail(f"{path}: position {q} has {len(names)} distinct points, not {1 + 2 * layers}")
    unique(path, [r for r in table if r["role"] == "target"], ["position", "point", "target_index"])
    unique(path, [r for r in table if r["role"] == "top"], ["position", "point", "rank"])


def main(argv):
    if len(argv) >= 3 and argv[1] == "decompose":
        check_decompose(argv[2])
    elif len(argv) >= 4 and argv[1] == "lens":
        check_lens(argv[2], int(argv[3]))
    else:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
