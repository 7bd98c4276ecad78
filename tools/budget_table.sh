#!/usr/bin/env bash
# Peak RSS of every command that runs the model, under one --max-memory budget (the table in
# issue 19's note): each command as its own process, peak RSS by /usr/bin/time, 32 token ids.
# Usage: tools/budget_table.sh MODEL.prism [BUDGET=1GiB]   (PRISM=path/to/prism to pick a binary)
# Prints one line per command: exit status, peak RSS, wall time, and its --stats line.
set -uo pipefail
M=${1:?usage: tools/budget_table.sh MODEL.prism [BUDGET]}
B=${2:-1GiB}
PRISM=${PRISM:-.build/release/prism}
IDS=2,651,6037,3413,576,6081,603,1000,1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,1013,1014,1015,1016,1017,1018,1019,1020,1021,1022,1023,1024
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
TARGETS=$(for t in 1000 1001 1002 1003 1004 1005 1006 1007 1008 1009; do printf -- "--target %s " $t; done)
t() {
  local name=$1
  shift
  /usr/bin/time -f "%M %e" -o "$W/time" "$@" >"$W/out" 2>"$W/err"
  local rc=$?
  local kb s
  read -r kb s < <(tail -1 "$W/time")
  printf "%-24s rc=%d  peak RSS %7.1f MiB  wall %6.1f s  %s\n" "$name" "$rc" "$(echo "$kb/1024" | bc -l)" "$s" \
    "$(grep -E '^error|stats:' "$W/err" | head -1 | cut -c1-110)"
}
echo "model $M, --max-memory $B, $(nproc) CPUs, prism $("$PRISM" --version)"
t logits "$PRISM" logits -m "$M" --ids $IDS --max-memory "$B" --stats
t generate "$PRISM" generate -m "$M" --ids $IDS --max-tokens 8 --max-memory "$B" --stats
t run "$PRISM" run -m "$M" --ids $IDS -o "$W/r.acts" --max-memory "$B" --stats
# shellcheck disable=SC2086
t "decompose (10, json)" "$PRISM" decompose -m "$M" --ids $IDS $TARGETS --json --max-memory "$B" --stats
t "decompose full" "$PRISM" decompose -m "$M" --ids $IDS --target 1000 --target 1001 --target 1002 --detail full --json --max-memory "$B" --stats
t lens "$PRISM" lens -m "$M" --ids $IDS --target 1000 --max-memory "$B" --stats
t "lens --acts" "$PRISM" lens -m "$M" --acts "$W/r.acts" --target 1000 --max-memory "$B" --stats
t paths "$PRISM" paths -m "$M" --ids $IDS --target 1000 --layer 12 --head 3 --source 5 --max-memory "$B" --stats
t explore "$PRISM" explore -m "$M" --ids $IDS --target 1000 -o "$W/x.html" --max-memory "$B" --stats
for s in capitals addition digits; do t "study $s" "$PRISM" study "$s" -m "$M" -o "$W/st-$s" --max-memory "$B" --stats; done
python3 - > "$W/in.jsonl" <<'PY'
import json, random
random.seed(0)
words = ["the", "capital", "city", "of", "France", "is", "a", "river", "runs", "through", "old", "town", "north", "and", "south"]
for i in range(100):
    print(json.dumps({"id": f"p{i}", "prompt": " ".join(random.choice(words) for _ in range(random.randint(6, 24))), "target_ids": [1000, 1001, 1002]}))
PY
t "batch (100 prompts)" "$PRISM" batch -m "$M" --input "$W/in.jsonl" --output "$W/b.jsonl" --max-memory "$B" --stats --quiet
