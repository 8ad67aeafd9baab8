#!/usr/bin/env bash
# `train-igllm` end to end on a few small world scenes: step lines, the summary, the model folder (it
# loads in `reconstruct` and writes object statements; after 3 steps a number may still be out of the
# grammar's range, so a program that does not parse is accepted there), a run killed with SIGKILL and
# resumed printing the same losses as an uninterrupted run at every step, round trips through a VQ
# tokenizer (--vq), and bad arguments exiting 2. Exit 77 (skipped) where no Vulkan device draws the scenes.
set -euo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v jq > /dev/null || { echo "jq (Debian package jq) is needed to read the JSON back"; exit 1; }
"$cli" world --out "$work/train" --count 6 --split train --size 16 > /dev/null 2>&1 || { echo "no Vulkan device: skipped"; exit 77; }
"$cli" world --out "$work/val" --count 2 --split val --size 16 > /dev/null
"$cli" --help | grep -q "^  train-igllm " || { echo "tessera-cli --help lacks train-igllm"; exit 1; }

small=(--train "$work/train" --val "$work/val" --batch 2 --layers 1 --hidden 32 --vision-layers 1 --vision-hidden 16)
"$cli" train-igllm "${small[@]}" --out "$work/model" --steps 3 > "$work/a.txt"
cat "$work/a.txt"
[ "$(grep -c '"cross_entropy":' "$work/a.txt")" = 3 ] || { echo "expected 3 step lines"; exit 1; }
tail -1 "$work/a.txt" | jq -e '.event == "done" and .steps == 3 and .val_scenes == 2 and .image_tokens == 4
  and (.val_cross_entropy | isnormal) and .val_token_accuracy >= 0 and .val_token_accuracy <= 1
  and (.val_x_mae | isnormal)' > /dev/null || { echo "summary"; exit 1; }
for f in config.json model.safetensors tokenizer.json tokenizer_config.json metrics.json; do
  [ -s "$work/model/$f" ] || { echo "missing $f"; exit 1; }
done
jq -e '.float_head_type == "tanh_mlp_gelu" and .vision_config.image_size == 16 and .text_config.hidden_size == 32' \
  "$work/model/config.json" > /dev/null || { echo "config.json"; exit 1; }
"$cli" reconstruct --model "$work/model" --image "$work/val/$(jq -r .image "$work/val/index.jsonl" | head -1)" \
  --temperature 0 --max-tokens 30 --out-program "$work/p.txt" --out-render "$work/r.png" > /dev/null 2> "$work/rec.err" \
  || grep -q "the generated program does not parse" "$work/rec.err" \
  || { cat "$work/rec.err"; echo "reconstruct failed on the trained folder"; exit 1; }
grep -q "^object " "$work/p.txt" || { echo "no object statement in the program"; cat "$work/p.txt"; exit 1; }

# Killed with SIGKILL after its second checkpoint, then resumed: the losses of every step equal an
# uninterrupted run's.
"$cli" train-igllm "${small[@]}" --out "$work/full" --steps 6 > "$work/full.txt"
"$cli" train-igllm "${small[@]}" --out "$work/k" --steps 6 --checkpoint "$work/ck.safetensors" --checkpoint-every 1 \
  > "$work/k1.txt" &
pid=$!
for _ in $(seq 600); do
  [ "$(grep -c '"cross_entropy":' "$work/k1.txt" 2> /dev/null || true)" -ge 2 ] && break
  sleep 0.1
done
kill -9 "$pid" 2> /dev/null || true
wait "$pid" 2> /dev/null || true
[ -s "$work/ck.safetensors" ] || { echo "no checkpoint after two steps"; exit 1; }
"$cli" train-igllm "${small[@]}" --out "$work/k" --steps 6 --checkpoint "$work/ck.safetensors" --checkpoint-every 1 \
  > "$work/k2.txt"
head -1 "$work/k2.txt" | jq -e '.event == "resumed" and .step >= 2' > /dev/null || { echo "not resumed"; exit 1; }
jq -s -c 'map(select(.cross_entropy != null)) | map({(.step | tostring): .loss}) | add' "$work/full.txt" > "$work/want.json"
cat "$work/k1.txt" "$work/k2.txt" | jq -s -c 'map(select(.cross_entropy != null)) | map({(.step | tostring): .loss}) | add' > "$work/got.json"
jq -e -n --slurpfile w "$work/want.json" --slurpfile g "$work/got.json" \
  '($w[0] | length) == 6 and ($g[0] | keys | sort) == ($w[0] | keys | sort) and all($w[0] | to_entries[]; $g[0][.key] == .value)' \
  > /dev/null || { echo "losses after the resume differ:"; cat "$work/want.json" "$work/got.json"; exit 1; }

# Round trips through a VQ tokenizer (--vq): share 0 and the clean run give the same losses; share 1
# changes the first step's loss (its pictures are the tokenizer's reconstructions); --vq-from 1 leaves
# step 1 as it was and changes step 2. A folder that is not a VQ fails with a message naming --vq: at the
# start, or when the first round trip is due.
"$cli" train-vq --train "$work/train" --val "$work/val" --out "$work/vq" --steps 1 --batch 2 --levels 2 --codebook 16 \
  --code-dim 4 > /dev/null
losses() { jq -s -c 'map(select(.cross_entropy != null) | .loss)' "$1"; }
"$cli" train-igllm "${small[@]}" --out "$work/v0" --steps 2 > "$work/clean.txt"
"$cli" train-igllm "${small[@]}" --out "$work/v0" --steps 2 --vq "$work/vq" --vq-share 0 > "$work/v0.txt"
"$cli" train-igllm "${small[@]}" --out "$work/v1" --steps 2 --vq "$work/vq" --vq-share 1 > "$work/v1.txt"
"$cli" train-igllm "${small[@]}" --out "$work/v2" --steps 2 --vq "$work/vq" --vq-share 1 --vq-from 1 > "$work/v2.txt"
[ "$(losses "$work/v0.txt")" = "$(losses "$work/clean.txt")" ] || { echo "--vq-share 0 changed the losses"; exit 1; }
jq -n -e --argjson c "$(losses "$work/clean.txt")" --argjson v "$(losses "$work/v1.txt")" --argjson f "$(losses "$work/v2.txt")" \
  '$v[0] != $c[0] and $f[0] == $c[0] and $f[1] != $c[1]' > /dev/null ||
  { echo "round trips: clean $(losses "$work/clean.txt"), share 1 $(losses "$work/v1.txt"), from 1 $(losses "$work/v2.txt")"; exit 1; }
tail -1 "$work/v2.txt" | jq -e '.vq_round_trips == {"share": 1, "from_step": 1}' > /dev/null || { echo "summary lacks the round trips"; exit 1; }
tail -1 "$work/clean.txt" | jq -e '.vq_round_trips == null' > /dev/null || { echo "clean summary names round trips"; exit 1; }
set +e
"$cli" train-igllm "${small[@]}" --out "$work/x" --steps 1 --vq "$work/val" > /dev/null 2> "$work/vq0.err"; rc=$?
"$cli" train-igllm "${small[@]}" --out "$work/x" --steps 2 --vq "$work/val" --vq-from 1 --vq-share 1 > /dev/null 2> "$work/vq1.err"; rc2=$?
set -e
[ "$rc" = 1 ] && grep -q -- "--vq" "$work/vq0.err" || { echo "--vq on a world folder: exit $rc"; cat "$work/vq0.err"; exit 1; }
[ "$rc2" = 1 ] && grep -q -- "--vq" "$work/vq1.err" || { echo "--vq-from on a world folder: exit $rc2"; cat "$work/vq1.err"; exit 1; }

for bad in "--train $work/train --val $work/val --out $work/x" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --float-head mlp" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --dtype f32" \
           "--train $work/train --val $work/val --out $work/x --steps 0" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --schedule step" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --vq-share 2" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --cells-first"; do
  set +e; "$cli" train-igllm $bad > /dev/null 2>&1; rc=$?; set -e
  [ "$rc" = 2 ] || { echo "train-igllm $bad: exit $rc, expected 2"; exit 1; }
done
set +e; "$cli" train-igllm --train "$work/val/index.jsonl" --val "$work/val" --out "$work/x" --steps 1 > /dev/null 2>&1; rc=$?
"$cli" train-igllm "${small[@]}" --out "$work/x" --steps 1 --patch 5 > /dev/null 2>&1; rc2=$?; set -e
[ "$rc" = 1 ] || { echo "a file as --train: exit $rc, expected 1"; exit 1; }
[ "$rc2" = 1 ] || { echo "a patch that does not divide the image: exit $rc2, expected 1"; exit 1; }
echo "train-igllm CLI: ok"
