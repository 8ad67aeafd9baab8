#!/usr/bin/env bash
# `train-janus` end to end on a few small world images over a tiny VQ: step lines, the summary with
# finite validation losses, the Janus folder, a resumed run continuing the uninterrupted run's loss curve,
# a run killed with SIGKILL and resumed, `generate` on the folder, the Token-Shuffle layout (its folder,
# `generate` with plain and speculative decoding), and bad arguments exiting 2.
# Exit 77 (skipped) where no Vulkan device draws the images.
set -euo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v jq > /dev/null || { echo "jq (Debian package jq) is needed to read the JSON back"; exit 1; }
"$cli" world --out "$work/train" --count 6 --split train --size 16 > /dev/null 2>&1 || { echo "no Vulkan device: skipped"; exit 77; }
"$cli" world --out "$work/val" --count 2 --split val --size 16 > /dev/null
"$cli" --help | grep -q "^  train-janus " || { echo "tessera-cli --help lacks train-janus"; exit 1; }
"$cli" train-vq --train "$work/train" --val "$work/val" --out "$work/vq" --steps 1 --batch 2 --levels 2 --codebook 16 \
  --code-dim 4 > /dev/null

base=(--vq "$work/vq" --train "$work/train" --val "$work/val" --batch 3 --layers 1 --hidden 32 --heads 4 --cfg-drop 0.5)
# Uninterrupted: 4 steps.
"$cli" train-janus "${base[@]}" --out "$work/a" --steps 4 --checkpoint "$work/a.ckpt" > "$work/a.txt"
cat "$work/a.txt"
[ "$(grep -c '"step":' "$work/a.txt")" = 4 ] || { echo "expected 4 step lines"; exit 1; }
grep -q '"event":"encoded"' "$work/a.txt" || { echo "images were not encoded"; exit 1; }
tail -1 "$work/a.txt" | jq -e '.event == "done" and .steps == 4 and .val_images == 2 and .tokens_per_image == 64
  and (.val_loss | isnormal) and (.val_loss_unconditional | isnormal)' > /dev/null || { echo "summary"; exit 1; }
for f in config.json model.safetensors tokenizer.json tokenizer_config.json metrics.json; do
  [ -s "$work/a/$f" ] || { echo "missing $f"; exit 1; }
done
jq -e '.vq_config.num_patches == 8 and .text_config.hidden_size == 32 and .torch_dtype == "bfloat16"' "$work/a/config.json" \
  > /dev/null || { echo "config.json"; exit 1; }

# 2 steps, then resumed to 4 (codes from the cache): steps 3 and 4 repeat the uninterrupted run's losses.
"$cli" train-janus "${base[@]}" --out "$work/b" --steps 2 --checkpoint "$work/b.ckpt" > /dev/null
"$cli" train-janus "${base[@]}" --out "$work/b" --steps 4 --checkpoint "$work/b.ckpt" > "$work/b.txt"
head -1 "$work/b.txt" | grep -q encoded && { echo "the code cache was not used"; exit 1; }
grep -q '"event":"resumed","step":2' "$work/b.txt" || { echo "not resumed"; exit 1; }
losses() { jq -s -c 'map(select(.step != null and .total != null and .step > 2)) | map([.step, .loss])' "$1"; }
[ "$(losses "$work/a.txt")" = "$(losses "$work/b.txt")" ] || { echo "resumed losses differ: $(losses "$work/b.txt") vs $(losses "$work/a.txt")"; exit 1; }

# Killed with SIGKILL after its first checkpoint, then resumed to the end.
"$cli" train-janus "${base[@]}" --out "$work/c" --steps 100000000 --checkpoint "$work/c.ckpt" --checkpoint-every 1 > "$work/c.txt" &
pid=$!
for _ in $(seq 1 600); do [ -s "$work/c.ckpt" ] && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2> /dev/null || true
[ -s "$work/c.ckpt" ] || { echo "no checkpoint before the kill"; exit 1; }
len=$(od -An -t u8 -N8 "$work/c.ckpt" | tr -d ' ')
done_steps=$(head -c $((len + 8)) "$work/c.ckpt" | tail -c +9 | jq -r '.__metadata__["tessera.train.step"]')
"$cli" train-janus "${base[@]}" --out "$work/c" --steps $((done_steps + 2)) --checkpoint "$work/c.ckpt" > "$work/c2.txt"
grep -q "\"event\":\"resumed\",\"step\":$done_steps" "$work/c2.txt" || { echo "not resumed after SIGKILL"; exit 1; }
tail -1 "$work/c2.txt" | jq -e ".event == \"done\" and .steps == $((done_steps + 2))" > /dev/null || { echo "killed run did not finish"; exit 1; }

# The folder generates an image.
"$cli" generate --model "$work/a" --prompt "a small red metal cube" --out "$work/g.png" > /dev/null
[ -s "$work/g.png" ] || { echo "generate wrote nothing"; exit 1; }

# --layout token-shuffle: the same data, s = 2 windows of the 8x8 code grid (16 LM positions an image).
"$cli" train-janus "${base[@]}" --layout token-shuffle --window 2 --shuffle-blocks 1 --out "$work/ts" --steps 3 \
  --dtype f16 > "$work/ts.txt"
tail -1 "$work/ts.txt" | jq -e '.event == "done" and .steps == 3 and .layout == "token-shuffle" and .window == 2
  and (.val_loss | isnormal)' > /dev/null || { echo "token-shuffle summary"; exit 1; }
for f in config.json model.safetensors token_shuffle.safetensors vq/model.safetensors vq/config.json tokenizer.json; do
  [ -s "$work/ts/$f" ] || { echo "token-shuffle: missing $f"; exit 1; }
done
jq -e '.token_shuffle.window == 2 and .token_shuffle.grid == 8 and .token_shuffle.image_vocab_size == 16
  and .token_shuffle.in_blocks == 1 and .torch_dtype == "float16"' "$work/ts/config.json" > /dev/null \
  || { echo "token-shuffle config.json"; exit 1; }
"$cli" generate --model "$work/ts" --prompt "a small red metal cube" --seed 3 --json --out "$work/ts.png" > "$work/tsg.json"
jq -e '.method == "token-shuffle" and .steps == 16 and .window == 2' "$work/tsg.json" > /dev/null \
  || { echo "token-shuffle generate: $(cat "$work/tsg.json")"; exit 1; }
"$cli" generate --model "$work/ts" --prompt "a small red metal cube" --seed 3 --json --decode sjd --sjd-window 4 \
  --out "$work/ts-sjd.png" > "$work/tss.json"
jq -e '.decode == "sjd" and .steps <= 16 and (.step_of_cell[0] | length) == 64' "$work/tss.json" > /dev/null \
  || { echo "token-shuffle generate --decode sjd"; exit 1; }

for bad in "--vq $work/vq --train $work/train --val $work/val --out $work/x" \
           "--vq $work/vq --train $work/train --val $work/val --out $work/x --steps 1 --window 2" \
           "--vq $work/vq --train $work/train --val $work/val --out $work/x --steps 1 --layout mosaic" \
           "--vq $work/vq --train $work/train --val $work/val --out $work/x --steps 1 --layout token-shuffle --window 3" \
           "--vq $work/vq --train $work/train --val $work/val --out $work/x --steps 1 --layout token-shuffle --window 4 --hidden 40 --heads 4" \
           "--vq $work/vq --train $work/train --val $work/val --out $work/x --steps 1 --dtype f8" \
           "--vq $work/vq --train $work/train --val $work/val --out $work/x --steps 1 --hidden 30 --heads 4" \
           "--vq $work/vq --train $work/train --val $work/val --out $work/x --steps 1 --cfg-drop 2" \
           "--vq $work/vq --train $work/train --val $work/val --out $work/x --steps 1 --schedule step"; do
  set +e; "$cli" train-janus $bad > /dev/null 2>&1; rc=$?; set -e
  [ "$rc" = 2 ] || { echo "train-janus $bad: exit $rc, expected 2"; exit 1; }
done
set +e; "$cli" train-janus --vq "$work/train" --train "$work/train" --val "$work/val" --out "$work/x" --steps 1 > /dev/null 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || { echo "a world folder as --vq: exit $rc, expected 1"; exit 1; }
echo "train-janus CLI: ok"
