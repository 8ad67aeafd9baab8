#!/bin/sh
# tessera-cli generate-video end to end on a random lumos-tiny checkpoint and the cosmos_tiny tokenizer:
# T2V writes a recipe and 1 + 4·(2 − 1) = 5 decoded frames, replay reproduces the codes, I2V from the
# first decoded frame and T2I run, bad input is a usage error; an MP4 carries the recipe and replays.
set -eu
CLI=$1
DATA=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$CLI" bench lumos --preset lumos-tiny --write-checkpoint tiny >/dev/null
"$CLI" generate-video --model tiny --tokenizer "$DATA/reference/cosmos_tiny" --prompt-ids 5,6,7 --size 64x32 \
    --fps 4 --frames 4 --steps 6 --seed 3 --threads 2 --out t2v --json >/dev/null
test "$(ls t2v/frame-*.png | wc -l)" -eq 5
test "$(ls t2v/code-digits-f*.png | wc -l)" -eq 2
grep -q '"method": "lumos-1"' t2v/recipe.json
"$CLI" generate-video --replay t2v/recipe.json --threads 1 --json | grep -q '"replay_identical":true'
# The same clip as an MP4: FFmpeg's own reader sees 5 frames of 64x32 at 4 fps and the recipe; replay
# from the MP4 alone reproduces the codes.
"$CLI" generate-video --model tiny --tokenizer "$DATA/reference/cosmos_tiny" --prompt-ids 5,6,7 --size 64x32 \
    --fps 4 --frames 4 --steps 6 --seed 3 --threads 2 --out mp4 --video mp4/clip.mp4 --json >/dev/null
if command -v ffprobe >/dev/null 2>&1; then
  probe=$(ffprobe -v error -count_packets -select_streams v:0 \
      -show_entries stream=width,height,avg_frame_rate,nb_read_packets:format_tags=tessera -of default=nw=1 mp4/clip.mp4)
  echo "$probe" | grep -qx 'width=64'
  echo "$probe" | grep -qx 'height=32'
  echo "$probe" | grep -qx 'avg_frame_rate=4/1'
  echo "$probe" | grep -qx 'nb_read_packets=5'
  echo "$probe" | grep -q '^TAG:tessera={.*"method":"lumos-1"'
else
  echo "ffprobe not installed: MP4 checked with Tessera's reader only"
  "$CLI" inspect mp4/clip.mp4 | grep -q 'lumos-1'
fi
cmp t2v/recipe.json mp4/recipe.json
"$CLI" generate-video --replay mp4/clip.mp4 --threads 1 --out mp4replay --json | grep -q '"replay_identical":true'
"$CLI" generate-video --model tiny --tokenizer "$DATA/reference/cosmos_tiny" --prompt-ids 5,6,7 --size 64x32 \
    --fps 4 --frames 4 --first-frame t2v/frame-000.png --steps 4 --seed 4 --out i2v --json | grep -q '"task":"i2v"'
"$CLI" generate-video --model tiny --prompt-ids 5,6,7 --size 64x32 --image-mode --steps 4 --out t2i --json \
    | grep -q '"latent_frames":1'
if "$CLI" generate-video --model tiny --prompt-ids 5,6,7 --size 65x32 --out bad 2>/dev/null; then exit 1; fi
if "$CLI" generate-video --model tiny --prompt-ids 5,6,7 --frames 5 --fps 4 --out bad 2>/dev/null; then exit 1; fi
# --project stores the run once: kind video, its codes, an MP4 FFmpeg reads, a thumbnail strip; the same
# run again (a replay) finds it there.
"$CLI" generate-video --model tiny --tokenizer "$DATA/reference/cosmos_tiny" --prompt-ids 5,6,7 --size 64x32 \
    --fps 4 --frames 4 --steps 6 --seed 3 --threads 2 --out proj-run --project proj --json > stored.json
grep -q '"project_stored":true' stored.json
id=$(sed 's/.*"project_generation":\([0-9]*\).*/\1/' stored.json)
"$CLI" project show proj "$id" --json > show.json
grep -q '"kind": "video"' show.json
grep -q '"kind": "video/mp4"' show.json
grep -q '"token_count": 64' show.json
grep -q '"strip_asset_id": [0-9]' show.json
media=$(sed -n 's/.*"path": "\(.*\.mp4\)".*/\1/p' show.json)
test -s "$media"
if command -v ffprobe >/dev/null 2>&1; then
  ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets -of default=nw=1 "$media" \
      | grep -qx 'nb_read_packets=5'
fi
"$CLI" generate-video --replay proj-run/recipe.json --tokenizer "$DATA/reference/cosmos_tiny" --threads 1 \
    --out proj-replay --project proj --json | grep -q '"project_stored":false'
test "$("$CLI" project list proj --json | grep -o '"kind": "video"' | wc -l)" -eq 1
echo "generate-video: t2v, replay, mp4 + replay from it, i2v, t2i and bad input behave"
