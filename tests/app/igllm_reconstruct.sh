#!/usr/bin/env bash
# `reconstruct` end to end on a tiny random IG-LLM checkpoint: the program streamed to stdout equals the
# written program, parses (read back by `render`), the render is written at the asked size, and the
# project holds the job, the scene (same program), the input image and the render (same bytes).
set -euo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v sqlite3 > /dev/null || { echo "sqlite3 (Debian package sqlite3) is needed to read the project back"; exit 1; }

"$cli" reconstruct --write-random-checkpoint "$work/ckpt" --float-head tanh_mlp_gelu
"$cli" render "$(dirname "$0")/../../docs/examples/scenes/three_objects.scene" --out "$work/in.png" --size 96x64

# The random model may end the text at once; take the first seed whose program has two statements.
found=""
for seed in $(seq 1 30); do
  "$cli" reconstruct --model "$work/ckpt" --image "$work/in.png" --seed "$seed" --max-tokens 80 \
    --out-program "$work/p.txt" > "$work/stdout.txt" 2> "$work/stderr.txt"
  if [ "$(grep -c '^ *object ' "$work/p.txt" || true)" -ge 2 ]; then found="$seed"; break; fi
done
[ -n "$found" ] || { echo "no seed in 1..30 gave two objects"; exit 1; }
echo "seed $found:"; cat "$work/p.txt"

"$cli" reconstruct --model "$work/ckpt" --image "$work/in.png" --seed "$found" --max-tokens 80 \
  --project "$work/proj" --out-program "$work/p2.txt" --out-render "$work/r.png" --size 200x150 \
  > "$work/stdout.txt" 2> "$work/stderr.txt"
cat "$work/stderr.txt"
cmp "$work/p.txt" "$work/p2.txt" || { echo "the same seed gave another program"; exit 1; }
# stdout is the program (plus a final newline when the program has none).
diff <(sed -e '$a\' "$work/p2.txt") "$work/stdout.txt" || { echo "stdout is not the program"; exit 1; }
grep -Eq "parsed $(grep -c '^ *object ' "$work/p2.txt") object\\(s\\); rendered 200x150 with the (vulkan|null) renderer" "$work/stderr.txt"
# The program parses on its own and has the objects the file shows.
"$cli" render "$work/p2.txt" --out "$work/check.png" --renderer null --size 8x8 --json > "$work/check.json"
objects=$(grep -c '^ *object ' "$work/p2.txt")
grep -q "\"objects\":$objects" "$work/check.json" || { echo "render does not see $objects objects"; cat "$work/check.json"; exit 1; }
# The render: a PNG of 200x150 (IHDR width and height, big-endian, at bytes 16..23).
[ "$(xxd -s 16 -l 8 -p "$work/r.png")" = "000000c800000096" ] || { echo "render is not 200x150"; exit 1; }

db="$work/proj/project.db"
[ "$(sqlite3 "$db" "SELECT kind || ' ' || state FROM jobs")" = "reconstruct done" ] || { echo "no finished job"; exit 1; }
stored_hex=$(sqlite3 "$db" "SELECT hex(program) FROM scenes WHERE id = (SELECT json_extract(result, '\$.scene_id') FROM jobs)")
[ "$stored_hex" = "$(xxd -p -c 1000000 "$work/p2.txt" | tr a-f A-F)" ] || { echo "stored program differs"; exit 1; }
[ "$(sqlite3 "$db" "SELECT json_array_length(parsed, '\$.objects') FROM scenes")" = "$objects" ] || { echo "stored scene JSON has another object count"; exit 1; }
render_sha=$(sqlite3 "$db" "SELECT sha256 FROM assets WHERE id = (SELECT json_extract(result, '\$.render_asset_id') FROM jobs)")
image_sha=$(sqlite3 "$db" "SELECT sha256 FROM assets WHERE id = (SELECT json_extract(result, '\$.image_asset_id') FROM jobs)")
[ "$render_sha" = "$(sha256sum "$work/r.png" | cut -d' ' -f1)" ] || { echo "stored render differs from --out-render"; exit 1; }
[ "$image_sha" = "$(sha256sum "$work/in.png" | cut -d' ' -f1)" ] || { echo "stored image differs from the input"; exit 1; }
# The history lists it: one generation of kind "scene" whose picture is the render, naming the scene.
[ "$(sqlite3 "$db" "SELECT kind FROM generations WHERE id = (SELECT json_extract(result, '\$.generation_id') FROM jobs) AND asset_id = (SELECT json_extract(result, '\$.render_asset_id') FROM jobs) AND json_extract(params, '\$.scene_id') = (SELECT json_extract(result, '\$.scene_id') FROM jobs)")" = "scene" ] || { echo "no history entry for the reconstruction"; exit 1; }

# The null renderer on request; bad input is an error with a message, never a crash.
"$cli" reconstruct --model "$work/ckpt" --image "$work/in.png" --seed "$found" --renderer null --out-render "$work/n.png" > /dev/null 2> "$work/null.txt"
grep -q "with the null renderer" "$work/null.txt" || { echo "--renderer null not used"; cat "$work/null.txt"; exit 1; }
# No Vulkan driver to be found: the null renderer takes over, saying why.
VK_ICD_FILENAMES=/nonexistent/icd.json VK_DRIVER_FILES=/nonexistent/icd.json \
  "$cli" reconstruct --model "$work/ckpt" --image "$work/in.png" --seed "$found" > /dev/null 2> "$work/fallback.txt"
grep -q "note: no Vulkan renderer" "$work/fallback.txt" || { echo "no fallback message"; cat "$work/fallback.txt"; exit 1; }
grep -q "with the null renderer" "$work/fallback.txt"
echo "not a png" > "$work/bad.png"
if "$cli" reconstruct --model "$work/ckpt" --image "$work/bad.png" 2> "$work/err.txt"; then echo "accepted a bad image"; exit 1; fi
grep -q "bad.png" "$work/err.txt"
if "$cli" reconstruct --model "$work/nowhere" --image "$work/in.png" 2> "$work/err.txt"; then echo "accepted a missing model"; exit 1; fi
grep -q "nowhere" "$work/err.txt"
set +e
"$cli" reconstruct --model "$work/ckpt" 2> /dev/null; [ $? -eq 2 ] || { echo "missing --image is not a usage error"; exit 1; }
"$cli" reconstruct --model "$work/ckpt" --image "$work/in.png" --size 0x5 2> /dev/null; [ $? -eq 2 ] || { echo "bad --size accepted"; exit 1; }
set -e
echo "reconstruct end to end OK"
