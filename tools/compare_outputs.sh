#!/usr/bin/env bash
# Runs the same commands with two prism binaries on the shipped model and compares their
# outputs byte for byte: decompose --json (summary and full), --csv/--npy sets, batch lines,
# lens, paths, logits, tokenize, and the three studies' folders. For refactors that must not
# change behaviour (issue 15). Usage: tools/compare_outputs.sh OLD_PRISM NEW_PRISM [MODEL]
# (KEEP=1 keeps the work folder; exit status 1 when anything differs.)
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") model=${3:-models/tiny-gemma.prism}
root=$(pwd)
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
printf '%s\n' \
  '{"id": "fr", "prompt": "The capital of France is", "targets": [" Paris", " Rome"], "target_diffs": [[" Paris", " London"]]}' \
  '{"id": "add", "prompt": "7+2=", "targets": ["9"]}' \
  '{"id": "ids", "ids": [2, 651, 6037], "target_ids": [5, 6], "position": -2}' \
  '{"id": "bad", "prompt": "x", "targets": [" Parisian capital"]}' > "$work/in.jsonl"
mkdir -p "$work/old" "$work/new"
cp "$work/in.jsonl" "$work/old/"; cp "$work/in.jsonl" "$work/new/"
run() {  # run NAME old|new ARGS...: in $work/old or $work/new (same relative paths), stdout to NAME.out
  local name=$1 which=$2; shift 2
  local bin; bin=$([ "$which" = old ] && echo "$old" || echo "$new")
  (cd "$work/$which" && "$bin" "$@") > "$work/$which/$name.out"
}
for which in old new; do
  run decompose $which decompose -m "$root/$model" --prompt "The capital of France is" --target-token " Paris" --target-diff " Paris" " London" --json
  run decompose-full $which decompose -m "$root/$model" --prompt "The capital of France is" --target-token " Paris" --json --detail full
  run decompose-table $which decompose -m "$root/$model" --prompt "The capital of France is" --target-token " Paris"
  run decompose-sets $which decompose -m "$root/$model" --prompt "7+2=" --target-token 9 --csv csv --npy npy
  run lens $which lens -m "$root/$model" --prompt "The capital of France is" --target-token " Paris"
  run paths $which paths -m "$root/$model" --prompt "The capital of France is" --target-token " Paris" --layer 1 --head 0 --source 4
  run logits $which logits -m "$root/$model" --prompt "The capital of France is" --top 5 --json
  run tokenize $which tokenize -m "$root/$model" --json -- "The capital of France is"
  run batch $which batch -m "$root/$model" --input in.jsonl --output batch.jsonl --quiet
  for study in capitals addition digits; do run "study-$study" $which study "$study" -m "$root/$model" -o "study-$study"; done
done
status=0
for f in "$work"/old/*.out; do
  name=$(basename "$f")
  if ! cmp -s "$f" "$work/new/$name"; then echo "DIFFERS: stdout of $name"; status=1; else echo "same:    stdout of $name"; fi
done
for pair in csv npy batch.jsonl study-capitals study-addition study-digits; do
  if diff -r "$work/old/$pair" "$work/new/$pair" > /dev/null; then echo "same:    $pair"; else echo "DIFFERS: $pair"; status=1; fi
done
exit $status
