#!/usr/bin/env bash
# Speculative Jacobi decoding through the CLI: generate --decode sjd, the recipe records it, replay
# reproduces it, the JSON reports steps, and `bench sjd` prints its comparison line.
set -euo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
model="$(cd "$(dirname "$0")/../data" && pwd)/reference/janus_tiny" # 16 cells

"$cli" generate --model "$model" --prompt "a red cube" --seed 77 --images 2 --decode sjd --sjd-window 5 --sjd-init spatial \
  --out "$work/a.png" --json > "$work/a.json"
grep -q '"decode":"sjd"' "$work/a.json"
grep -q '"sjd_window":5' "$work/a.json"
grep -q '"sjd_init":"spatial"' "$work/a.json"
grep -q '"step_of_cell":\[\[0,' "$work/a.json"
steps="$(grep -o '"decode_steps":[0-9]*' "$work/a.json" | cut -d: -f2)"
[ "$steps" -ge 1 ] && [ "$steps" -lt 16 ] || { echo "expected fewer LM steps than the 16 cells, got $steps"; exit 1; }

"$cli" inspect "$work/a-1.png" | tee "$work/inspect.txt"
grep -q "decode      sjd, window 5, spatial init" "$work/inspect.txt"
grep -q "Decode: sjd (window 5, spatial init)" "$work/inspect.txt"
"$cli" replay "$work/a-1.png" --out "$work/replay.png" | tee "$work/replay.txt"
grep -q "tokens  16/16 identical" "$work/replay.txt"
grep -q "pixels  identical" "$work/replay.txt"

# LANTERN (lossy) is recorded and replayed too.
"$cli" generate --model "$model" --prompt "a red cube" --seed 78 --decode sjd --sjd-window 5 --lantern-k 4 --lantern-delta 0.2 \
  --out "$work/l.png" --json > "$work/l.json"
grep -q '"lantern_k":4' "$work/l.json"
grep -q '"lossy":true' "$work/l.json"
"$cli" inspect "$work/l.png" > "$work/linspect.txt"
grep -q "LANTERN relaxed acceptance (lossy): k 4, delta 0.2" "$work/linspect.txt"
"$cli" replay "$work/l.png" --out "$work/lreplay.png" > "$work/lreplay.txt"
grep -q "pixels  identical" "$work/lreplay.txt"
if "$cli" generate --prompt x --lantern-k 4 --out "$work/x.png" 2> /dev/null; then echo "accepted --lantern-k without sjd"; exit 1; fi

# Options that need --decode sjd, and windows out of range, are refused.
if "$cli" generate --prompt x --sjd-window 4 --out "$work/x.png" 2> "$work/err.txt"; then echo "accepted --sjd-window without sjd"; exit 1; fi
grep -q "need --decode sjd" "$work/err.txt"
if "$cli" generate --prompt x --decode sjd --sjd-window 0 --out "$work/x.png" 2> /dev/null; then echo "accepted window 0"; exit 1; fi
if "$cli" generate --prompt x --decode fast --out "$work/x.png" 2> /dev/null; then echo "accepted --decode fast"; exit 1; fi

"$cli" bench sjd --runs 1 --sjd-window 4 --lantern-k 4 > "$work/bench.json"
grep -q '"lantern":{' "$work/bench.json"
grep -q '"bench":"sjd"' "$work/bench.json"
grep -q '"steps_ratio":' "$work/bench.json"
grep -q '"wall_ratio":' "$work/bench.json"
grep -q '"plain":{' "$work/bench.json"
"$cli" bench --help > "$work/bench_help.txt"
grep -q "bench sjd" "$work/bench_help.txt"
"$cli" generate --help > "$work/generate_help.txt"
grep -q -- "--sjd-window" "$work/generate_help.txt"
grep -q -- "--sjd-init" "$work/generate_help.txt"
grep -q -- "--decode D" "$work/generate_help.txt"
echo "sjd cli OK"
