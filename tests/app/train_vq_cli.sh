#!/usr/bin/env bash
# `train-vq` end to end on a few small world images: step lines, the summary with a finite PSNR, the
# model folder (config.json, model.safetensors, metrics.json), a resumed run continuing from its
# checkpoint, --dtype f16 (every tensor stored as F16, about half the file), and bad arguments
# exiting 2. Exit 77 (skipped) where no Vulkan device draws the images.
set -euo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v jq > /dev/null || { echo "jq (Debian package jq) is needed to read the JSON back"; exit 1; }
"$cli" world --out "$work/train" --count 6 --split train --size 16 > /dev/null 2>&1 || { echo "no Vulkan device: skipped"; exit 77; }
"$cli" world --out "$work/val" --count 2 --split val --size 16 > /dev/null
"$cli" --help | grep -q "^  train-vq " || { echo "tessera-cli --help lacks train-vq"; exit 1; }

args=(--train "$work/train" --val "$work/val" --out "$work/model" --batch 2 --levels 2 --codebook 16 --code-dim 4
      --checkpoint "$work/ckpt.safetensors")
"$cli" train-vq "${args[@]}" --steps 2 > "$work/a.txt"
cat "$work/a.txt"
[ "$(grep -c '"step":' "$work/a.txt")" = 2 ] || { echo "expected 2 step lines"; exit 1; }
grep '"step":' "$work/a.txt" | jq -s -e 'all(.lr == 0.001 and (.grad_norm | isnormal) and .grad_norm > 0)' \
  > /dev/null || { echo "step lines lack the learning rate and gradient norm"; exit 1; }
tail -1 "$work/a.txt" | jq -e '.event == "done" and .steps == 2 and .val_images == 2 and .tokens_per_image == 64
  and (.val_psnr_db | isnormal) and .val_psnr_db > 0' > /dev/null || { echo "summary"; exit 1; }
for f in config.json model.safetensors metrics.json; do [ -s "$work/model/$f" ] || { echo "missing $f"; exit 1; }; done
jq -e '.vq_config.num_embeddings == 16 and .vq_config.embed_dim == 4' "$work/model/config.json" > /dev/null \
  || { echo "config.json"; exit 1; }

# Resumed from the checkpoint: two more steps, numbered 3 and 4.
"$cli" train-vq "${args[@]}" --steps 4 > "$work/b.txt"
head -1 "$work/b.txt" | jq -e '.event == "resumed" and .step == 2' > /dev/null || { echo "not resumed"; exit 1; }
[ "$(jq -s 'map(select(.step != null and .total != null)) | map(.step) | join(",")' "$work/b.txt")" = '"3,4"' ] \
  || { echo "resumed steps are not 3,4"; exit 1; }

# --dtype f16: the same training, saved in half precision.
"$cli" train-vq --train "$work/train" --val "$work/val" --out "$work/m16" --batch 2 --levels 2 --codebook 16 \
  --code-dim 4 --steps 2 --dtype f16 > "$work/c.txt"
jq -e '.torch_dtype == "float16"' "$work/m16/config.json" > /dev/null || { echo "f16: config.json torch_dtype"; exit 1; }
tail -1 "$work/c.txt" | jq -e '.dtype == "f16"' > /dev/null || { echo "f16: summary dtype"; exit 1; }
# The safetensors header names F16 for every tensor (8-byte little-endian length, then the JSON).
hdr_len=$(od -An -t u8 -N 8 "$work/m16/model.safetensors" | tr -d ' ')
dd if="$work/m16/model.safetensors" bs=1 skip=8 count="$hdr_len" status=none \
  | jq -e '[to_entries[] | select(.key != "__metadata__") | .value.dtype] | length > 0 and all(. == "F16")' \
  > /dev/null || { echo "f16: tensors not stored as F16"; exit 1; }
"$cli" train-vq --train "$work/train" --val "$work/val" --out "$work/m32" --batch 2 --levels 2 --codebook 16 \
  --code-dim 4 --steps 2 > /dev/null
s16=$(stat -c %s "$work/m16/model.safetensors") s32=$(stat -c %s "$work/m32/model.safetensors")
[ $((s16 * 10)) -lt $((s32 * 6)) ] || { echo "f16 file $s16 bytes, f32 $s32: not about half"; exit 1; }

for bad in "--train $work/train --val $work/val --out $work/x" "--train $work/train --val $work/val --out $work/x --steps 1 --channels 40" \
           "--train $work/train --val $work/val --out $work/x --steps 0" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --schedule linear" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --warmup -1" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --clip -1" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --dtype f8" \
           "--train $work/train --val $work/val --out $work/x --steps 1 --object-weight -1"; do
  set +e; "$cli" train-vq $bad > /dev/null 2>&1; rc=$?; set -e
  [ "$rc" = 2 ] || { echo "train-vq $bad: exit $rc, expected 2"; exit 1; }
done
set +e; "$cli" train-vq --train "$work/val/index.jsonl" --val "$work/val" --out "$work/x" --steps 1 > /dev/null 2>&1; rc=$?; set -e
[ "$rc" = 1 ] || { echo "a file as --train: exit $rc, expected 1"; exit 1; }
echo "train-vq CLI: ok"
