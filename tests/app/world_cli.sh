#!/usr/bin/env bash
# `world` end to end: the same arguments write the same bytes; files and index lines agree; ood scenes
# carry a held-out pair and train scenes none; clips write their frames; bad arguments exit 2.
# Exit 77 (skipped) where no Vulkan device exists.
set -euo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v jq > /dev/null || { echo "jq (Debian package jq) is needed to read the JSON back"; exit 1; }

if ! "$cli" render "$(dirname "$0")/../../docs/examples/scenes/three_objects.scene" --out "$work/probe.png" \
     --size 8x8 > /dev/null 2>&1; then
  echo "no Vulkan device: skipped"; exit 77
fi

"$cli" world --help | grep -q -- "--split" || { echo "--help lacks --split"; exit 1; }
"$cli" --help | grep -q "^  world " || { echo "tessera-cli --help lacks world"; exit 1; }

"$cli" world --out "$work/a" --count 5 --split train --seed 10 > "$work/sa.json"
"$cli" world --out "$work/b" --count 5 --split train --seed 10 > "$work/sb.json"
diff -r "$work/a" "$work/b" || { echo "the same arguments wrote different bytes"; exit 1; }
[ "$(jq -r .count "$work/sa.json")" = 5 ] && [ "$(jq -r .first_seed "$work/sa.json")" = 10 ] \
  || { echo "summary count/first_seed wrong"; cat "$work/sa.json"; exit 1; }
[ "$(wc -l < "$work/a/index.jsonl")" = 5 ] || { echo "index.jsonl should have 5 lines"; exit 1; }
while read -r line; do
  id="$(jq -r .id <<< "$line")"
  for ext in png txt scene; do [ -s "$work/a/$id.$ext" ] || { echo "missing $id.$ext"; exit 1; }; done
  [ "$(jq -r .caption <<< "$line")" = "$(cat "$work/a/$id.txt")" ] || { echo "$id: caption differs"; exit 1; }
  [ "$(jq -r .held_out_pair <<< "$line")" = false ] || { echo "train scene $id has a held-out pair"; exit 1; }
  # The program draws again to the same kind of PNG through `render`.
  "$cli" render "$work/a/$id.scene" --out "$work/r.png" --size 64x64 > /dev/null
done < "$work/a/index.jsonl"

"$cli" world --out "$work/o" --count 6 --split ood --clips --frames 3 --size 32 > "$work/so.json"
[ "$(jq -r .held_out_objects "$work/so.json")" -ge 6 ] || { echo "ood: fewer held-out objects than scenes"; exit 1; }
[ "$(jq -r .first_seed "$work/so.json")" = 1002000000 ] || { echo "ood first seed"; exit 1; }
[ "$(jq -s 'map(select(.held_out_pair)) | length' "$work/o/index.jsonl")" = 6 ] || { echo "ood scene without a held-out pair"; exit 1; }
[ "$(jq -s 'map(.frames | length) | add' "$work/o/index.jsonl")" = 18 ] || { echo "clip frames missing"; exit 1; }
[ -s "$work/o/ood-1002000000/frame-002.png" ] && [ -s "$work/o/ood-1002000000/frame-002.scene" ] \
  || { echo "clip files missing"; exit 1; }

for bad in "--out $work/x --count 0 --split train" "--out $work/x --count 2 --split nope" \
           "--out $work/x --count 2 --split val --seed 999999" "--out $work/x --split train" \
           "--out $work/x --count 2 --split train --frames 65"; do
  set +e; "$cli" world $bad > /dev/null 2>&1; rc=$?; set -e
  [ "$rc" = 2 ] || { echo "world $bad: exit $rc, expected 2"; exit 1; }
done
echo "world CLI: ok"
