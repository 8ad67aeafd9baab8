#!/usr/bin/env bash
# `eval-shapes` end to end on tiny random checkpoints (the figures mean nothing; the plumbing is what is
# checked): both tasks print their JSON, every split is reported, the object totals agree with the
# scenes `world` writes for the same split and indices, rates are fractions, the same run gives the
# same figures, and bad arguments exit 2. Exit 77 (skipped) where no Vulkan device exists.
set -euo pipefail
cli="$1"
data="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v jq > /dev/null || { echo "jq (Debian package jq) is needed to read the JSON back"; exit 1; }
if ! "$cli" render "$(dirname "$0")/../../docs/examples/scenes/three_objects.scene" --out "$work/probe.png" \
     --size 8x8 > /dev/null 2>&1; then
  echo "no Vulkan device: skipped"; exit 77
fi
"$cli" --help | grep -q "^  eval-shapes " || { echo "tessera-cli --help lacks eval-shapes"; exit 1; }
"$cli" eval-shapes --help | grep -q -- "--generator" || { echo "--help lacks --generator"; exit 1; }

"$cli" reconstruct --write-random-checkpoint "$work/ig" > /dev/null
"$cli" eval-shapes --igllm "$work/ig" --count 3 --seed 4 --splits test,ood --max-tokens 60 > "$work/a.json"
"$cli" eval-shapes --igllm "$work/ig" --count 3 --seed 4 --splits test,ood --max-tokens 60 > "$work/b.json"
cat "$work/a.json"
diff <(jq -S 'del(.seconds)' "$work/a.json") <(jq -S 'del(.seconds)' "$work/b.json") \
  || { echo "the same run gave other figures"; exit 1; }
[ "$(jq -r .task "$work/a.json")" = reconstruction ] || { echo "task"; exit 1; }
for split in test ood; do
  "$cli" world --out "$work/w-$split" --count 3 --seed 4 --split "$split" --renderer null > /dev/null
  want="$(jq -s 'map(.objects) | add' "$work/w-$split/index.jsonl")"
  got="$(jq -r ".splits.$split.objects" "$work/a.json")"
  [ "$got" = "$want" ] || { echo "$split: $got objects scored, the world has $want"; exit 1; }
  [ "$(jq -r ".splits.$split.scenes" "$work/a.json")" = 3 ] || { echo "$split: scenes"; exit 1; }
  jq -e ".splits.$split | [.count_accuracy, .color_accuracy, .shape_accuracy, .material_accuracy, .size_accuracy]
         | all(. >= 0 and . <= 1)" "$work/a.json" > /dev/null || { echo "$split: a rate outside [0, 1]"; exit 1; }
  jq -e ".splits.$split | (.position_error_pct_of_extent - 100 * .mean_position_error / 6 | fabs) < 1e-9
         and .matched <= .objects" "$work/a.json" > /dev/null || { echo "$split: position error or matched"; exit 1; }
done

# Through a VQ tokenizer: the PSNR eval-shapes reports for the round trip (the inference loader) equals
# the one train-vq reports (its training graph) on the same renders, written by `world`.
"$cli" world --out "$work/w-vq" --count 3 --seed 4 --split test --size 16 > /dev/null
"$cli" train-vq --train "$work/w-vq" --val "$work/w-vq" --out "$work/vq" --steps 2 --batch 3 --levels 2 \
  --codebook 16 --code-dim 4 > "$work/vq.txt"
"$cli" eval-shapes --igllm "$work/ig" --vq "$work/vq" --count 3 --seed 4 --splits test --size 16 \
  --max-tokens 60 > "$work/v.json"
cat "$work/v.json"
want="$(tail -n 1 "$work/vq.txt" | jq .val_psnr_db)"
jq -e --argjson want "$want" '(.splits.test.vq_psnr_db - $want | fabs) < 0.01 and .vq != null' "$work/v.json" \
  > /dev/null || { echo "VQ round trip: PSNR $(jq .splits.test.vq_psnr_db "$work/v.json"), train-vq says $want"; exit 1; }
set +e; "$cli" eval-shapes --igllm "$work/ig" --vq "$work/vq" --size 15 --count 1 > /dev/null 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || { echo "a size the VQ cannot take: exit $rc, expected 1"; exit 1; }

# Text->image: the tiny Janus checkpoint has a 128-token context, so scenes 2 and 3 of test (two
# objects each, short captions).
"$cli" eval-shapes --igllm "$work/ig" --generator "$data/reference/janus_tiny" --count 2 --seed 2 \
  --max-tokens 60 > "$work/t.json"
cat "$work/t.json"
"$cli" world --out "$work/w-t2i" --count 2 --seed 2 --split test --renderer null > /dev/null
want="$(jq -s 'map(.objects) | add' "$work/w-t2i/index.jsonl")"
[ "$(jq -r .splits.test.objects_asked "$work/t.json")" = "$want" ] || { echo "t2i: objects asked"; exit 1; }
jq -e '.task == "text_to_image" and .splits.test.images == 2 and (.splits.test.found_rate | . >= 0 and . <= 1)
       and .splits.test.objects_found <= .splits.test.objects_asked' "$work/t.json" > /dev/null \
  || { echo "t2i figures"; exit 1; }

# A Token-Shuffle generator (trained for one step over the tiny VQ: 8x8 codes in 2x2 windows, 16 LM steps
# an image) goes through the same measurement.
"$cli" train-janus --vq "$work/vq" --train "$work/w-vq" --val "$work/w-vq" --out "$work/ts" --steps 1 --batch 2 \
  --layers 1 --hidden 32 --heads 4 --layout token-shuffle --window 2 --shuffle-blocks 1 > /dev/null
"$cli" eval-shapes --igllm "$work/ig" --generator "$work/ts" --count 2 --seed 2 --max-tokens 60 > "$work/ts.json"
jq -e '.generator_layout == "token-shuffle" and .splits.test.images == 2 and .splits.test.lm_steps_per_image == 16
       and (.splits.test.found_rate | . >= 0 and . <= 1)' "$work/ts.json" > /dev/null \
  || { echo "t2i with Token-Shuffle: $(cat "$work/ts.json")"; exit 1; }
jq -e '.generator_layout == "janus"' "$work/t.json" > /dev/null || { echo "t2i: generator_layout"; exit 1; }

for bad in "--count 2" "--igllm $work/ig --splits nope" "--igllm $work/ig --count 0" \
           "--igllm $work/ig --splits val --seed 999999 --count 2" "--igllm $work/ig --renderer opengl" \
           "--igllm $work/ig --vq $work/vq --generator $data/reference/janus_tiny --count 1" \
           "--igllm $work/ig --generator $data/reference/janus_tiny --count 1 --sjd-window 8" \
           "--igllm $work/ig --generator $data/reference/janus_tiny --count 1 --decode fast"; do
  set +e; "$cli" eval-shapes $bad > /dev/null 2>&1; rc=$?; set -e
  [ "$rc" = 2 ] || { echo "eval-shapes $bad: exit $rc, expected 2"; exit 1; }
done
set +e; "$cli" eval-shapes --igllm "$work/missing" --count 1 > /dev/null 2> "$work/err"; rc=$?; set -e
[ "$rc" = 1 ] && grep -q "missing" "$work/err" || { echo "a missing model: exit $rc"; exit 1; }
echo "eval-shapes: ok"
