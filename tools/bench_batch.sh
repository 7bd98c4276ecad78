#!/usr/bin/env bash
# Batch benchmark: N prompts through `prism batch` (layer-major, --max-memory) against running
# `prism decompose` once per prompt (on a sample of them), same model, same targets, same run.
# Usage: tools/bench_batch.sh MODEL.prism [N=200] [BUDGET=1GiB] [SAMPLE=5]
set -euo pipefail
MODEL=${1:?usage: tools/bench_batch.sh MODEL.prism [N] [BUDGET] [SAMPLE]}
N=${2:-200}
BUDGET=${3:-1GiB}
SAMPLE=${4:-5}
PRISM=${PRISM:-.build/release/prism}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 - "$N" > "$WORK/in.jsonl" <<'PY'
import json, random, sys
random.seed(0)
words = ["the", "capital", "city", "of", "France", "is", "a", "river", "runs", "through", "old", "town", "north", "and", "south"]
for i in range(int(sys.argv[1])):
    text = " ".join(random.choice(words) for _ in range(random.randint(6, 24)))
    print(json.dumps({"id": f"p{i}", "prompt": text, "target_ids": [1000, 1001, 1002]}))
PY
echo "== prism batch: $N prompts, --max-memory $BUDGET"
/usr/bin/time -f "wall %e s, peak RSS %M KB" "$PRISM" batch -m "$MODEL" --input "$WORK/in.jsonl" --output "$WORK/out.jsonl" \
  --max-memory "$BUDGET" --stats --quiet 2>&1 | grep -E "batch:|stats:|wall"
echo "== prism decompose once per prompt, first $SAMPLE prompts"
start=$(date +%s.%N)
head -n "$SAMPLE" "$WORK/in.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["prompt"])' | while IFS= read -r prompt; do
  "$PRISM" decompose -m "$MODEL" --prompt "$prompt" --target 1000 --target 1001 --target 1002 --json --max-memory "$BUDGET" > /dev/null
done
end=$(date +%s.%N)
python3 -c "s=$end-$start; print(f'{$SAMPLE} prompts in {s:.1f} s: {$SAMPLE/s:.3f} prompts/s')"
