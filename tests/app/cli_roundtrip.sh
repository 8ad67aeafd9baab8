#!/usr/bin/env bash
# generate -> inspect -> replay with the CLI, twice with different thread counts: same tokens.
set -euo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# janus_tiny of the test data (TESSERA_DATA_DIR overrides it, as broken_model_fails.sh does).
model="${TESSERA_DATA_DIR:-$(cd "$(dirname "$0")/../data" && pwd)}/reference/janus_tiny"

"$cli" generate --model "$model" --prompt "a red cube" --seed 1234 --images 2 --threads 1 --out "$work/a.png" \
  --preview-dir "$work/previews" --json > "$work/a.json"
"$cli" generate --model "$model" --prompt "a red cube" --seed 1234 --images 2 --threads 2 --out "$work/b.png" --json > "$work/b.json"
test -f "$work/a.png" && test -f "$work/a-1.png"
ls "$work/previews"/preview-img0-*.png > /dev/null

tokens() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens"])' "$1"; }
[ "$(tokens "$work/a.json")" = "$(tokens "$work/b.json")" ] || { echo "tokens differ across thread counts"; exit 1; }

"$cli" inspect "$work/a-1.png" | tee "$work/inspect.txt"
grep -q "prompt      a red cube" "$work/inspect.txt"
grep -q "seed        1234" "$work/inspect.txt"
grep -q "image 1 of 2" "$work/inspect.txt"
grep -q "hash      [0-9a-f]\{64\}" "$work/inspect.txt"

"$cli" replay "$work/a-1.png" --out "$work/replay.png" | tee "$work/replay.txt"
grep -q "pixels  identical" "$work/replay.txt"

# Files that are not Tessera PNGs get a clear error, not a crash.
echo "not a png" > "$work/bad.png"
if "$cli" inspect "$work/bad.png" 2> "$work/err.txt"; then echo "inspect accepted garbage"; exit 1; fi
grep -q "not a PNG" "$work/err.txt"
echo "cli round trip OK"
