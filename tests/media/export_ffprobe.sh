#!/usr/bin/env bash
# `tessera-cli export` read back by FFmpeg's own tools: frame count, size, fps, codec and the recipe
# through ffprobe (MP4, WebM, GIF; WebP through `inspect`, as FFmpeg 5.1 cannot decode animated WebP),
# quality through ffmpeg's psnr filter, and Ctrl-C mid-export leaving no file. Exit 77 = skipped
# (no ffmpeg/ffprobe on this machine).
set -uo pipefail
cli="$1"
command -v ffprobe >/dev/null && command -v ffmpeg >/dev/null || { echo "SKIP: ffmpeg/ffprobe not installed"; exit 77; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if [ "$2" != "$3" ]; then echo "FAIL: $1: got '$2', expected '$3'"; fail=1; else echo "ok: $1 = $3"; fi; }

mkdir "$tmp/frames"
ffmpeg -v error -f lavfi -i "testsrc=size=96x64:rate=25" -frames:v 12 "$tmp/frames/f%03d.png" || exit 1
printf '{"method":"lumos1","prompt":"red-fox","seed":7}\n' > "$tmp/recipe.json"
recipe='{"method":"lumos1","prompt":"red-fox","seed":7}'

for ext in mp4 webm gif webp; do
  "$cli" export --frames "$tmp/frames" --out "$tmp/v.$ext" --fps 25 --recipe "$tmp/recipe.json" --quiet || { echo "FAIL: export $ext"; fail=1; continue; }
  check "$ext recipe via inspect" "$("$cli" inspect "$tmp/v.$ext" --json | tr -d ' \n')" "$recipe"
  if [ "$ext" = webp ]; then
    check "webp frames via inspect" "$("$cli" inspect "$tmp/v.webp" | awk '/^frames/{print $2}')" 12
    continue
  fi
  s="$(ffprobe -v error -count_packets -select_streams v:0 -show_entries stream=codec_name,width,height,avg_frame_rate,nb_read_packets -of default=nw=1 "$tmp/v.$ext")"
  codec=$ext; [ $ext = mp4 ] && codec=h264; [ $ext = webm ] && codec=vp9
  check "$ext codec" "$(sed -n 's/^codec_name=//p' <<<"$s")" "$codec"
  check "$ext size" "$(sed -n 's/^width=//p' <<<"$s")x$(sed -n 's/^height=//p' <<<"$s")" 96x64
  check "$ext fps" "$(sed -n 's/^avg_frame_rate=//p' <<<"$s")" 25/1
  check "$ext frames" "$(sed -n 's/^nb_read_packets=//p' <<<"$s")" 12
  if [ $ext = gif ]; then
    check "gif recipe sidecar" "$(tr -d ' \n' < "$tmp/v.gif.recipe.json")" "{\"tessera\":\"$(sed 's/"/\\"/g' <<<"$recipe")\"}"
  else
    tag="$(ffprobe -v error -show_entries format_tags -of default=nw=1 "$tmp/v.$ext" | sed -n 's/^TAG:tessera=//ip')"
    check "$ext recipe via ffprobe" "$tag" "$recipe"
    db="$(ffmpeg -v info -i "$tmp/v.$ext" -framerate 25 -i "$tmp/frames/f%03d.png" -lavfi psnr -f null - 2>&1 | sed -n 's/.*PSNR.* average:\([0-9.inf]*\).*/\1/p')"
    if awk -v d="$db" 'BEGIN{exit !(d+0 >= 30)}'; then echo "ok: $ext psnr $db dB >= 30"; else echo "FAIL: $ext psnr '$db' < 30"; fail=1; fi
  fi
done

# PNG sequence: pixel-exact through ffmpeg's decoder.
"$cli" export --frames "$tmp/frames/f*.png" --out "$tmp/seq/" --quiet || { echo "FAIL: export png"; fail=1; }
check "png frames" "$(ls "$tmp/seq" | wc -l)" 12
db="$(ffmpeg -v info -i "$tmp/seq/frame_%06d.png" -i "$tmp/frames/f%03d.png" -lavfi psnr -f null - 2>&1 | sed -n 's/.*PSNR.* average:\([0-9.inf]*\).*/\1/p')"
check "png psnr (identical)" "$db" inf

# Ctrl-C mid-export: exit 130, no output, no temporary.
mkdir "$tmp/big" "$tmp/out"
ffmpeg -v error -f lavfi -i "testsrc2=size=640x480:rate=25" -frames:v 300 "$tmp/big/f%03d.png" || exit 1
"$cli" export --frames "$tmp/big" --out "$tmp/out/big.mp4" 2> "$tmp/err" &
pid=$!
for _ in $(seq 1 300); do grep -q "frame 5/" "$tmp/err" && break; sleep 0.1; done
kill -INT $pid
wait $pid; rc=$?
check "ctrl-c exit status" "$rc" 130
check "ctrl-c leaves nothing" "$(ls -A "$tmp/out" | wc -l)" 0
exit $fail
