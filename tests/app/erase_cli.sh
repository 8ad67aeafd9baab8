#!/usr/bin/env bash
# `tessera-cli erase` on janus_tiny with the documented example pairs: the loss curve and the window
# events as JSON lines (each decision is its window's summed step losses against the threshold), kill -9
# and a restart continue the uninterrupted curve, a delta that kept the original weights generates the
# original tokens while a trained one does not, the recipe records the overlay and replay reproduces it,
# --project stores the erasure, and malformed pairs files are refused with the place named.
set -euo pipefail
cli="$1"
root="$2"
model="$root/tests/data/reference/janus_tiny"
pairs="$root/docs/examples/erase_pairs.json"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$cli" --help | grep -q "^  erase " || fail "erase missing from --help"
"$cli" erase --help | grep -q -- "--threshold T" || fail "erase --help lacks --threshold"

# 1. The curve and the decisions. W = 5 over 16-step rollouts: windows of 5, 5, 5 and 1 per pair.
"$cli" erase --model "$model" --pairs "$pairs" --out "$work/d.safetensors" --steps 4 --window 5 --lr 1e-2 \
  --threshold 2 > "$work/run.jsonl" 2> "$work/run.err"
grep -q "training the q/k/v/o projections of all 2 instead of 5" "$work/run.err" || fail "no clamp note"
[ "$(grep -c '^{"step":' "$work/run.jsonl")" -eq 64 ] || fail "expected 64 step lines"
[ "$(grep -c '"event":"update"' "$work/run.jsonl")" -ge 1 ] || fail "no update window"
[ "$(grep -c '"event":"skip"' "$work/run.jsonl")" -ge 1 ] || fail "no skipped window"
[ "$(grep -c -E '"event":"(update|skip)"' "$work/run.jsonl")" -eq 16 ] || fail "expected 16 windows"
# Each window's loss_sum is the sum of its step losses, and update <=> loss_sum > threshold.
awk -F'[:,}]' '
  /^\{"step":/ { sum += $8; next }
  /"event":"(update|skip)"/ {
    ev = $2; gsub(/"/, "", ev); ls = $8; th = $10;
    d = sum - ls; if (d < 0) d = -d;
    if (d > 1e-5 * (ls > 1 ? ls : 1)) { print "window sum " ls " but steps add to " sum; exit 1 }
    if ((ls > th) != (ev == "update")) { print "window " $4 ": " ev " with sum " ls " threshold " th; exit 1 }
    sum = 0
  }' "$work/run.jsonl" || fail "window decisions"
grep -q '"event":"saved"' "$work/run.jsonl" || fail "no saved event"

# 2. kill -9 after the first checkpoint, restart: the curve continues the uninterrupted run's.
"$cli" erase --model "$model" --pairs "$pairs" --out "$work/long.safetensors" --steps 40 --window 5 --lr 1e-2 \
  --threshold 2 > "$work/long.jsonl" 2>/dev/null
"$cli" erase --model "$model" --pairs "$pairs" --out "$work/k.safetensors" --steps 40 --window 5 --lr 1e-2 \
  --threshold 2 --checkpoint "$work/ck.safetensors" > "$work/killed.jsonl" 2>/dev/null &
pid=$!
for _ in $(seq 1 400); do [ -f "$work/ck.safetensors" ] && break; sleep 0.01; done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -f "$work/ck.safetensors" ] || fail "no checkpoint before the kill"
grep -q '"event":"saved"' "$work/killed.jsonl" && echo "note: the run finished before the kill"
"$cli" erase --model "$model" --pairs "$pairs" --out "$work/k.safetensors" --steps 40 --window 5 --lr 1e-2 \
  --threshold 2 --checkpoint "$work/ck.safetensors" > "$work/resumed.jsonl" 2>/dev/null
grep -q '"event":"resumed"' "$work/resumed.jsonl" || fail "the restart did not resume"
from="$(grep '"event":"resumed"' "$work/resumed.jsonl" | sed 's/.*"step":\([0-9]*\).*/\1/')"
echo "resumed after step $from of 640"
grep '^{"step":' "$work/resumed.jsonl" > "$work/resumed_steps"
awk -F'[:,]' -v from="$from" '/^\{"step":/ && $2 > from' "$work/long.jsonl" > "$work/long_steps"
[ -s "$work/resumed_steps" ] || fail "nothing after the resume"
cmp "$work/resumed_steps" "$work/long_steps" || fail "the resumed curve differs from the uninterrupted one"
cmp "$work/k.safetensors" "$work/long.safetensors" || fail "the resumed delta differs"

# 3. Generation: a delta holding the original weights (every window skipped) changes nothing; the
# trained one does; the recipe names the overlay and replay reproduces the image.
"$cli" erase --model "$model" --pairs "$pairs" --out "$work/same.safetensors" --steps 1 --threshold 1e30 \
  > /dev/null 2>&1
tokens() { "$cli" generate --model "$model" --prompt "a photo of a church" --seed "$1" --out "$work/g.png" \
  --json ${2:+--overlay "$2"} 2>/dev/null | grep -o '"tokens":\[\[[0-9,]*\]\]'; }
differs=0
for seed in 1 2 3; do
  orig="$(tokens $seed)"
  [ "$(tokens $seed "$work/same.safetensors")" = "$orig" ] || fail "an unchanged delta changed the tokens (seed $seed)"
  [ "$(tokens $seed "$work/d.safetensors")" = "$orig" ] || differs=1
done
[ "$differs" -eq 1 ] || fail "the trained delta generated the original tokens for every seed"
"$cli" generate --model "$model" --prompt "a photo of a church" --seed 5 --out "$work/e.png" \
  --overlay "$work/d.safetensors" > /dev/null 2>&1
"$cli" inspect "$work/e.png" | grep -q "Overlay: d.safetensors" || fail "the recipe does not name the overlay"
"$cli" replay "$work/e.png" --out "$work/r.png" | grep -q "tokens  16/16 identical" || fail "replay with the overlay"

# 4. --project: a finished 'erase' job with the curve in its result and the delta as an asset, byte for byte.
"$cli" erase --model "$model" --pairs "$pairs" --out "$work/p.safetensors" --steps 2 --window 5 --project "$work/proj" \
  > "$work/proj.jsonl" 2>/dev/null
grep -q '"event":"stored"' "$work/proj.jsonl" || fail "no stored event"
[ "$(sqlite3 "$work/proj/project.db" "select kind || ' ' || state from jobs")" = "erase done" ] || fail "no finished erase job"
[ "$(sqlite3 "$work/proj/project.db" "select json_array_length(result, '$.losses') from jobs")" -eq 32 ] || fail "curve not in the result"
asset="$(sqlite3 "$work/proj/project.db" "select rel_path from assets where kind = 'tensor/delta'")"
cmp "$work/proj/$asset" "$work/p.safetensors" || fail "the stored delta differs from the written one"

# 5. Malformed pairs: the place is named, exit status 1; a bad mode is a usage error (2).
printf '{\n  "pairs": [\n    {"unsafe": "a", "safe_neutral": "b",, "safe_target": "c"}\n  ]\n}\n' > "$work/syntax.json"
set +e
"$cli" erase --model "$model" --pairs "$work/syntax.json" --out "$work/x.safetensors" 2> "$work/err1"; rc1=$?
printf '{"pairs": [{"unsafe": "a", "safe_neutral": "b", "safe_target": "c"}, {"unsafe": "a", "safe_neutral": "b"}]}' \
  > "$work/missing.json"
"$cli" erase --model "$model" --pairs "$work/missing.json" --out "$work/x.safetensors" 2> "$work/err2"; rc2=$?
"$cli" erase --model "$model" --pairs "$pairs" --out "$work/x.safetensors" --mode sideways 2> /dev/null; rc3=$?
set -e
cat "$work/err1" "$work/err2"
[ "$rc1" -eq 1 ] && grep -q "syntax.json:3:" "$work/err1" || fail "syntax error without its line"
[ "$rc2" -eq 1 ] && grep -q 'pairs\[1\].safe_target' "$work/err2" || fail "missing field without its path"
[ "$rc3" -eq 2 ] || fail "a bad --mode is not a usage error"
echo "erase CLI: all checks passed"
